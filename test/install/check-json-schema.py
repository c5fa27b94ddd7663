#!/usr/bin/python3
"""check-json-schema.py SCHEMA [FILE]: checks a JSON document (FILE or stdin) against SCHEMA, a small
subset of JSON Schema: type (one or a list), enum, pattern, minimum, properties, required,
additionalProperties: false, items. Prints each mismatch with its place; exit 1 on any."""
import json
import re
import sys

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KNOWN = {"title", "type", "enum", "pattern", "minimum", "properties", "required", "additionalProperties", "items"}


def check(schema, value, where, errors):
    unknown = set(schema) - KNOWN
    if unknown:
        sys.exit("check-json-schema.py: %s: unsupported keywords %s" % (where, sorted(unknown)))
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        if not any(TYPES[t](value) for t in types):
            errors.append("%s: %r is not %s" % (where, value, " or ".join(types)))
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %s" % (where, value, schema["enum"]))
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append("%s: %r does not match /%s/" % (where, value, schema["pattern"]))
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        errors.append("%s: %r < %r" % (where, value, schema["minimum"]))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: %s missing" % (where, key))
        for key, v in value.items():
            if key in props:
                check(props[key], v, "%s.%s" % (where, key), errors)
            elif schema.get("additionalProperties", True) is False:
                errors.append("%s: %s is not in the schema" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(schema["items"], v, "%s[%d]" % (where, i), errors)


schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
errors = []
check(schema, doc, "$", errors)
for e in errors:
    print("%s: %s" % (sys.argv[1], e))
sys.exit(1 if errors else 0)
