/* SPDX-License-Identifier: MIT */
/* Authenticode hashing, signing and verification, checked against oracles we did not write: the test vectors
 * of formats.md §1.2 (Debian's systemd-boot, hashed by sbsign and pesign), pesign's hash, sbverify, pesign
 * -S and osslsigncode on our signatures, sbsign's signature over the same image, and openssl asn1parse. Keys
 * are throwaway ones made with openssl in a temporary directory. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authenticode.h"
#include "pe-builder.h"
#include "pe-synth.h"
#include "pe.h"
#include "test-util.h"
#include "tests.h"

#define SEED   UINT64_C(0x61757468656e7469)
#define N_FUZZ 2000

#define SYSTEMD_BOOT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
#define DEBIAN_STUB  "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

/* formats.md §1.2, checked there against sbsign and pesign. */

static char tmpdir[] = "/tmp/test-authenticode-XXXXXX";
static char *temp_path(const char *name)
{
        char *p;

        if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
                abort();
        return p;
}

/* The line of output starting with prefix, up to its end. */
static char *line_after(const char *output, const char *prefix)
{
        const char *s = strstr(output, prefix), *e;

        if (!s)
                return NULL;
        s += strlen(prefix);
        e = strchrnul(s, '\n');
        return strndup(s, e - s);
}

static bool make_keys(void)
{
        return run_quiet("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout db.key -out db.pem "
                         "-subj /CN=lanzaboote-test-db -days 3650",
                         tmpdir) &&
               run_quiet(
                       "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem "
                       "-subj /CN=lanzaboote-test-other -days 3650",
                       tmpdir) &&
               run_quiet("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout new.key -out new.pem "
                         "-subj /CN=lanzaboote-test-new -days 3650",
                         tmpdir) &&
               run_quiet("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 "
                         "-pass pass:secret -out encrypted.key",
                         tmpdir) &&
               run_quiet(
                       "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key",
                       tmpdir) &&
               run_quiet("cd %s && echo 'not a key' > garbage.key", tmpdir);
}

static void test_vectors(void)
{
        uint8_t *buf, *padded, digest[AUTHENTICODE_DIGEST_SIZE];
        char hex[2 * AUTHENTICODE_DIGEST_SIZE + 1], want[2 * AUTHENTICODE_DIGEST_SIZE + 1] = "";
        char *error = NULL, *padded_path = temp_path("systemd-boot-padded.efi");
        size_t size = 0, padded_size;
        int r;

        buf = test_read_file(SYSTEMD_BOOT, &size);
        check(buf != NULL, "%s: cannot read", SYSTEMD_BOOT);
        if (!buf)
                return;

        /* The expected digests are pesign's, of this machine's systemd-boot and of it zero-padded. */
        check(pesign_digest(SYSTEMD_BOOT, want), "pesign -h %s", SYSTEMD_BOOT);
        r = authenticode_digest(buf, size, digest, &error);
        to_hex(digest, hex);
        check(r == 0 && strcmp(hex, want) == 0, "%s: digest %s, pesign's %s (%s)", SYSTEMD_BOOT, hex, want,
              error);
        printf("%s as is: %s (pesign: %s)\n", SYSTEMD_BOOT, hex, want);

        padded_size = (size + 7) & ~(size_t)7;
        padded = calloc(padded_size, 1);
        memcpy(padded, buf, size);
        check(test_write_file(padded_path, padded, padded_size) && pesign_digest(padded_path, want),
              "pesign -h %s", padded_path);
        r = authenticode_digest(padded, padded_size, digest, &error);
        to_hex(digest, hex);
        check(r == 0 && strcmp(hex, want) == 0, "%s padded: digest %s, pesign's %s", SYSTEMD_BOOT, hex,
              want);
        printf("%s zero-padded to %zu bytes: %s (pesign: %s)\n", SYSTEMD_BOOT, padded_size, hex, want);
        check(authenticode_is_signed(buf, size) == 0, "Debian's systemd-boot is unsigned");

        free(padded);
        free(padded_path);
        free(buf);
}

/* pesign -h hashes the file as it is. */
static void check_pesign_hash(const char *path, const uint8_t *image, size_t size)
{
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        char hex[2 * AUTHENTICODE_DIGEST_SIZE + 1], theirs[2 * AUTHENTICODE_DIGEST_SIZE + 1] = "";

        check(authenticode_digest(image, size, digest, NULL) == 0, "%s: digest", path);
        to_hex(digest, hex);
        check(pesign_digest(path, theirs) && strcmp(theirs, hex) == 0, "%s: pesign hash %s, ours %s", path,
              theirs, hex);
        printf("pesign -h %s: hash: %s (ours %s)\n", path, theirs, hex);
}

static struct authenticode_signer load_signer(const char *name)
{
        struct authenticode_signer s = {};
        char key[256], pem[256], *error = NULL;
        int r;

        snprintf(key, sizeof(key), "%s/%s.key", tmpdir, name);
        snprintf(pem, sizeof(pem), "%s/%s.pem", tmpdir, name);
        r = authenticode_signer_load(key, pem, &s, &error);
        check(r == 0, "load %s: %d %s", name, r, error);
        free(error);
        return s;
}

static X509 *load_certificate(const char *name)
{
        char path[256], *error = NULL;
        X509 *x = NULL;
        int r;

        snprintf(path, sizeof(path), "%s/%s.pem", tmpdir, name);
        r = authenticode_certificate_load(path, &x, &error);
        check(r == 0, "load %s: %d %s", path, r, error);
        free(error);
        return x;
}

/* Builds a stub as lanzatool does, from the stub binary at path. */
static uint8_t *build_stub(const char *path, size_t *ret_size)
{
        static const char osrel[] = "ID=nixos\nPRETTY_NAME=\"NixOS (Generation 7, 2024-02-03)\"\n";
        static const char cmdline[] = "init=/nix/store/x-nixos-system/init quiet";
        static const char kernel[] = "\\EFI\\nixos\\kernel-6.6-aaaa.efi";
        static const char initrd[] = "\\EFI\\nixos\\initrd-6.6-bbbb.efi";
        static const uint8_t hash[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        const struct pe_builder_section sections[] = {
                {".osrel", osrel, sizeof(osrel) - 1},
                {".cmdline", cmdline, sizeof(cmdline) - 1},
                {".linux", kernel, sizeof(kernel) - 1},
                {".initrd", initrd, sizeof(initrd) - 1},
                {".linuxh", hash, 32},
                {".initrdh", hash, 32},
        };
        uint8_t *stub, *out = NULL;
        size_t size = 0;
        char *error = NULL;
        int r;

        stub = test_read_file(path, &size);
        if (!stub)
                return NULL;
        r = pe_builder_add_sections(stub, size, sections, sizeof(sections) / sizeof(sections[0]), &out,
                                    ret_size, &error);
        check(r == 0, "%s: build: %d %s", path, r, error);
        free(error);
        free(stub);
        return out;
}

/* Our signature, judged by sbverify, pesign, osslsigncode and openssl asn1parse. */
static void check_signature_with_tools(const char *path, const uint8_t *image, size_t size)
{
        char *db = temp_path("db.pem"), *other = temp_path("other.pem"), *p7 = temp_path("detached.p7");
        char *out = NULL, *current, *calculated, hex[2 * AUTHENTICODE_DIGEST_SIZE + 1];
        uint8_t digest[AUTHENTICODE_DIGEST_SIZE];
        int r;

        r = run_command(&out, "sbverify --cert %s %s", db, path);
        check(r == 0 && strstr(out, "Signature verification OK"), "%s: sbverify --cert db.pem:\n%s", path,
              out);
        printf("sbverify --cert db.pem %s: exit %d: %s", path, r, out);
        free(out);

        r = run_command(&out, "sbverify --cert %s %s", other, path);
        check(r != 0 && !strstr(out, "Signature verification OK"),
              "%s: sbverify --cert other.pem passes:\n%s", path, out);
        printf("sbverify --cert other.pem %s: exit %d: %s", path, r, out);
        free(out);

        r = run_command(&out, "pesign -S -i %s", path);
        check(r == 0 && strstr(out, "The signer's common name is lanzaboote-test-db"), "%s: pesign -S:\n%s",
              path, out);
        printf("pesign -S -i %s: exit %d:\n%s", path, r, out);
        free(out);

        check(authenticode_digest(image, size, digest, NULL) == 0, "%s: digest", path);
        to_hex(digest, hex);
        r = run_command(&out, OSSLSIGNCODE " verify -CAfile %s -in %s", db, path);
        current = line_after(out, "Current message digest    : ");
        calculated = line_after(out, "Calculated message digest : ");
        check(r == 0 && strstr(out, "Signature verification: ok") && current && calculated &&
                      strncasecmp(current, hex, 64) == 0 && strncasecmp(calculated, hex, 64) == 0,
              "%s: osslsigncode verify:\n%s", path, out);
        printf("osslsigncode verify %s: exit %d: current %s, calculated %s, ours %s\n", path, r, current,
               calculated, hex);
        free(current);
        free(calculated);
        free(out);

        /* Reproducible means no signingTime; the two attributes every verifier needs must be there. */
        r = run_command(&out, "sbattach --detach %s %s >/dev/null && openssl asn1parse -inform DER -in %s",
                        p7, path, p7);
        check(r == 0 && !strstr(out, "signingTime") && strstr(out, ":messageDigest") &&
                      strstr(out, ":contentType") && strstr(out, ":sha256") && strstr(out, ":rsaEncryption"),
              "%s: asn1parse of the detached PKCS#7:\n%s", path, out);
        free(out);
        free(db);
        free(other);
        free(p7);
}

/* formats.md §1.3: the table and its directory entry, byte by byte. */
static void check_table_layout(const uint8_t *image, size_t size, size_t unsigned_size)
{
        struct pe_image img;
        const struct pe_data_directory *dir;
        uint32_t length;
        uint16_t revision, type;

        if (pe_parse(image, size, PE_LAYOUT_FILE, &img) < 0) {
                check(false, "signed image parses");
                return;
        }
        dir = pe_data_directory(&img, IMAGE_DIRECTORY_ENTRY_SECURITY);
        check(dir && dir->VirtualAddress == ((unsigned_size + 7) & ~(size_t)7) &&
                      dir->VirtualAddress % 8 == 0 && dir->Size % 8 == 0 &&
                      dir->VirtualAddress + dir->Size == size,
              "certificate directory: VirtualAddress 0x%x Size 0x%x, file %zu",
              dir ? dir->VirtualAddress : 0, dir ? dir->Size : 0, size);
        if (!dir)
                return;
        memcpy(&length, image + dir->VirtualAddress, 4);
        memcpy(&revision, image + dir->VirtualAddress + 4, 2);
        memcpy(&type, image + dir->VirtualAddress + 6, 2);
        check(revision == WIN_CERT_REVISION_2_0 && type == WIN_CERT_TYPE_PKCS_SIGNED_DATA &&
                      ((length + 7) & ~7u) == dir->Size && length > 8 + 256,
              "WIN_CERTIFICATE: dwLength %u revision 0x%x type %u", length, revision, type);
        /* [EDK2]'s fixed-offset parse: 0x82 outer length, the sha256 OID at offset 32. */
        check(image[dir->VirtualAddress + 8 + 1] == 0x82 &&
                      memcmp(image + dir->VirtualAddress + 8 + 32, "\x60\x86\x48\x01\x65\x03\x04\x02\x01",
                             9) == 0,
              "PKCS#7 layout EDK2 parses");
        for (size_t i = unsigned_size; i < dir->VirtualAddress; i++)
                check(image[i] == 0, "padding byte %zu is zero", i);
}

/* osslsigncode's reading of both signatures: the digest each signs, and the messageDigest attribute, the
 * SHA-256 of the SpcIndirectDataContent. Equal attributes mean our SpcIndirectDataContent is sbsign's, byte
 * for byte. */
static void check_same_content_as_sbsign(const char *sbsign_path, const char *our_path, const char *label)
{
        char *sb_out = NULL, *our_out = NULL, *sb_digest, *our_digest, *sb_attribute, *our_attribute;

        check(run_command(&sb_out, OSSLSIGNCODE " verify -CAfile %s/db.pem -in %s", tmpdir, sbsign_path) ==
                      0,
              "%s: osslsigncode on sbsign's signature:\n%s", label, sb_out);
        check(run_command(&our_out, OSSLSIGNCODE " verify -CAfile %s/db.pem -in %s", tmpdir, our_path) == 0,
              "%s: osslsigncode on ours:\n%s", label, our_out);
        sb_digest = line_after(sb_out, "Current message digest    : ");
        our_digest = line_after(our_out, "Current message digest    : ");
        sb_attribute = line_after(sb_out, "Message digest: ");
        our_attribute = line_after(our_out, "Message digest: ");
        check(sb_digest && our_digest && strcmp(sb_digest, our_digest) == 0, "%s: signed digests %s and %s",
              label, sb_digest, our_digest);
        check(sb_attribute && our_attribute && strcmp(sb_attribute, our_attribute) == 0,
              "%s: messageDigest attributes %s and %s", label, sb_attribute, our_attribute);
        printf("%s: osslsigncode: sbsign's signature: digest %s, messageDigest %s\n", label, sb_digest,
               sb_attribute);
        printf("%s: osslsigncode: our signature:      digest %s, messageDigest %s\n", label, our_digest,
               our_attribute);
        free(sb_digest);
        free(our_digest);
        free(sb_attribute);
        free(our_attribute);
        free(sb_out);
        free(our_out);
}

static void test_sign(const char *input_path, const char *label)
{
        struct authenticode_signer db = load_signer("db"), other = load_signer("other");
        X509 *db_cert = load_certificate("db"), *other_cert = load_certificate("other");
        uint8_t *input, *a = NULL, *b = NULL, *again = NULL, *sb, digest_ours[32], digest_sb[32];
        size_t input_size = 0, a_size = 0, b_size = 0, again_size = 0, sb_size = 0;
        char *signed_path, *unsigned_path, *sb_path, *error = NULL, name[128];
        int r;

        if (strcmp(label, "systemd-boot") == 0)
                input = test_read_file(input_path, &input_size);
        else
                input = build_stub(input_path, &input_size);
        check(input != NULL, "%s: no input", input_path);
        if (!input || !db.key || !other.key || !db_cert || !other_cert)
                goto finish;

        snprintf(name, sizeof(name), "%s.unsigned.efi", label);
        unsigned_path = temp_path(name);
        snprintf(name, sizeof(name), "%s.signed.efi", label);
        signed_path = temp_path(name);
        snprintf(name, sizeof(name), "%s.sbsign.efi", label);
        sb_path = temp_path(name);
        test_write_file(unsigned_path, input, input_size);
        check_pesign_hash(unsigned_path, input, input_size);

        r = authenticode_sign(input, input_size, &db, &a, &a_size, &error);
        check(r == 0, "%s: sign: %d %s", label, r, error);
        if (r < 0)
                goto finish;
        r = authenticode_sign(input, input_size, &db, &b, &b_size, &error);
        check(r == 0 && a_size == b_size && memcmp(a, b, a_size) == 0, "%s: second signature byte-identical",
              label);
        r = authenticode_sign(a, a_size, &db, &again, &again_size, &error);
        check(r == 0 && again_size == a_size && memcmp(again, a, a_size) == 0,
              "%s: re-signing replaces the signature, same bytes", label);

        check(test_write_file(signed_path, a, a_size), "write %s", signed_path);
        check_signature_with_tools(signed_path, a, a_size);
        check_table_layout(a, a_size, input_size);
        check_pesign_hash(signed_path, a, a_size);
        check(authenticode_is_signed(a, a_size) == 1 && authenticode_is_signed(input, input_size) == 0,
              "%s: is_signed", label);

        /* Our verifier, both ways. */
        r = authenticode_verify(a, a_size, db_cert, &error);
        check(r == 0, "%s: verify with db: %d %s", label, r, error);
        r = authenticode_verify(a, a_size, other_cert, &error);
        check(r == -EKEYREJECTED, "%s: verify with other: %d", label, r);
        printf("verify %s with other.pem: %d: %s\n", label, r, error);
        free(error);
        error = NULL;
        r = authenticode_verify(input, input_size, db_cert, &error);
        check(r == -ENODATA, "%s: verify unsigned: %d", label, r);
        free(error);
        error = NULL;

        /* sbsign over the same bytes: the same digest, and our verifier accepts its signature. */
        check(run_quiet("sbsign --key %s/db.key --cert %s/db.pem --output %s %s", tmpdir, tmpdir, sb_path,
                        unsigned_path),
              "%s: sbsign", label);
        sb = test_read_file(sb_path, &sb_size);
        check(sb && authenticode_digest(sb, sb_size, digest_sb, NULL) == 0 &&
                      authenticode_digest(a, a_size, digest_ours, NULL) == 0 &&
                      memcmp(digest_sb, digest_ours, 32) == 0,
              "%s: sbsign's image and ours have the same Authenticode digest", label);
        if (sb) {
                char hex_sb[65], hex_ours[65];

                to_hex(digest_sb, hex_sb);
                to_hex(digest_ours, hex_ours);
                printf("%s: digest of sbsign's output %s, of ours %s\n", label, hex_sb, hex_ours);
                r = authenticode_verify(sb, sb_size, db_cert, &error);
                check(r == 0, "%s: our verifier accepts sbsign's signature: %d %s", label, r, error);
                free(error);
                error = NULL;
        }
        free(sb);
        check_same_content_as_sbsign(sb_path, signed_path, label);

        /* A second signature appended by sbsign after ours: either certificate verifies. */
        check(run_quiet("sbsign --key %s/other.key --cert %s/other.pem --output %s %s", tmpdir, tmpdir,
                        sb_path, signed_path),
              "%s: sbsign a second signature", label);
        sb = test_read_file(sb_path, &sb_size);
        check(sb && authenticode_verify(sb, sb_size, db_cert, NULL) == 0 &&
                      authenticode_verify(sb, sb_size, other_cert, NULL) == 0,
              "%s: two signatures, each verifies", label);
        free(sb);

        /* Signed by other, verified with db. */
        free(b);
        b = NULL;
        r = authenticode_sign(input, input_size, &other, &b, &b_size, NULL);
        check(r == 0 && authenticode_verify(b, b_size, db_cert, NULL) == -EKEYREJECTED &&
                      authenticode_verify(b, b_size, other_cert, NULL) == 0,
              "%s: signed by other", label);

        /* One byte changed in the last section after signing. */
        {
                struct pe_image img;

                if (pe_parse(a, a_size, PE_LAYOUT_FILE, &img) == 0) {
                        const struct pe_section_header *last = &img.sections[img.n_sections - 1];

                        a[last->PointerToRawData] ^= 1;
                        r = authenticode_verify(a, a_size, db_cert, &error);
                        check(r == -EBADMSG && error && strstr(error, "changed after signing"),
                              "%s: tampered image: %d %s", label, r, error);
                        printf("tampered %s: %d: %s\n", label, r, error);
                        free(error);
                        error = NULL;
                        test_write_file(signed_path, a, a_size);
                        char *out = NULL;

                        check(run_command(&out, "sbverify --cert %s/db.pem %s", tmpdir, signed_path) != 0,
                              "%s: sbverify rejects the tampered image too: %s", label, out);
                        free(out);
                }
        }
        free(unsigned_path);
        free(signed_path);
        free(sb_path);

finish:
        free(input);
        free(a);
        free(b);
        free(again);
        authenticode_signer_done(&db);
        authenticode_signer_done(&other);
        X509_free(db_cert);
        X509_free(other_cert);
}

static void expect_load_failure(const char *key, const char *cert, int error, const char *must_name)
{
        struct authenticode_signer s = {};
        char *k = temp_path(key), *c = temp_path(cert), *message = NULL;
        int r;

        r = authenticode_signer_load(k, c, &s, &message);
        check(r == error && message && strstr(message, must_name) && !s.key && !s.certificate,
              "load %s + %s: %d (%s), want %d naming %s", key, cert, r, message, error, must_name);
        printf("refused, as it should: lanzatool: %s\n", message);
        free(message);
        free(k);
        free(c);
}

static void test_key_errors(void)
{
        expect_load_failure("missing.key", "db.pem", -ENOENT, "missing.key");
        expect_load_failure("garbage.key", "db.pem", -EBADMSG, "garbage.key");
        expect_load_failure("encrypted.key", "db.pem", -EBADMSG, "encrypted.key");
        expect_load_failure("ec.key", "db.pem", -EOPNOTSUPP, "ec.key");
        expect_load_failure("db.key", "missing.pem", -ENOENT, "missing.pem");
        expect_load_failure("db.key", "garbage.key", -EBADMSG, "garbage.key");
        expect_load_failure("other.key", "db.pem", -EKEYREJECTED, "other.key");
}

/* Whether Authenticode hashes the byte at offset at of a well-formed signed PE32+ image: every byte but the
 * CheckSum field, the certificate directory entry and the certificate table (from the PE/COFF
 * specification's offsets, read here without our PE parser). */
static bool is_hashed_byte(const uint8_t *image, size_t at)
{
        uint32_t lfanew, table;
        size_t optional, checksum, directory;

        memcpy(&lfanew, image + 0x3c, 4);
        optional = (size_t)lfanew + 4 + 20;
        checksum = optional + 64;
        directory = optional + 112 + IMAGE_DIRECTORY_ENTRY_SECURITY * 8;
        memcpy(&table, image + directory, 4);
        return !(at - checksum < 4 || at - directory < 8 || at >= table);
}

/* Damaged images and tables: clean errors, never a crash or a read out of bounds (ASan). */
static void test_malformed(void)
{
        static const struct synth_section two[] = {{".text", 0x280}, {".sbat", 0x40}};
        struct authenticode_signer db = load_signer("db");
        X509 *cert = load_certificate("db");
        uint8_t *base, *signed_image = NULL, digest[32];
        size_t size, signed_size = 0, ok = 0, refused = 0, hashed = 0;
        char *error = NULL;
        int r;

        base = synth_pe(two, 2, &size);
        r = authenticode_sign(base, size, &db, &signed_image, &signed_size, &error);
        check(r == 0, "sign synthetic: %d %s", r, error);
        if (r < 0 || !cert)
                goto finish;

        /* Truncated: the table is no longer at the end of the file, or the headers are cut. */
        for (size_t n = 0; n < signed_size; n += (n < 0x200 ? 7 : 61)) {
                uint8_t *cut = malloc(n ? n : 1);

                memcpy(cut, signed_image, n);
                r = authenticode_verify(cut, n, cert, &error);
                check(r < 0 && error, "truncated to %zu: %d", n, r);
                free(error);
                error = NULL;
                check(authenticode_is_signed(cut, n) < 0, "truncated to %zu: is_signed", n);
                free(cut);
        }

        /* Random damage anywhere in the signed image. A changed byte that Authenticode hashes (anything but
         * the checksum, the certificate directory entry and the table) must never verify. */
        for (unsigned i = 0; i < N_FUZZ; i++) {
                uint8_t *buf = malloc(signed_size);
                size_t where_from = i % 2 ? size : 0;
                bool hashed_changed = false;

                memcpy(buf, signed_image, signed_size);
                for (unsigned k = 1 + rng_next() % 3; k > 0; k--) {
                        size_t at = where_from + rng_next() % (signed_size - where_from);

                        buf[at] = (uint8_t)rng_next();
                        hashed_changed |= buf[at] != signed_image[at] && is_hashed_byte(signed_image, at);
                }
                r = authenticode_verify(buf, signed_size, cert, &error);
                check(!(r == 0 && hashed_changed), "fuzz %u: a hashed byte changed, and it still verifies",
                      i);
                if (r == 0)
                        ok++;
                else {
                        refused++;
                        check(error != NULL, "fuzz %u: error %d without message", i, r);
                }
                hashed += hashed_changed;
                free(error);
                error = NULL;
                (void)authenticode_digest(buf, signed_size, digest, NULL);
                free(buf);
        }
        printf("fuzz: %zu with a hashed byte changed (none may verify); %zu still verify (damage in ignored "
               "bytes), "
               "%zu refused\n",
               hashed, ok, refused);

        /* A table that does not end the file. */
        {
                uint8_t *buf = calloc(signed_size + 8, 1);

                memcpy(buf, signed_image, signed_size);
                r = authenticode_verify(buf, signed_size + 8, cert, &error);
                check(r == -EBADMSG, "data after the table: %d %s", r, error);
                free(error);
                error = NULL;
                uint8_t *out = NULL;
                size_t out_size = 0;

                r = authenticode_sign(buf, signed_size + 8, &db, &out, &out_size, &error);
                check(r == -EBADMSG && !out, "sign with data after the table: %d %s", r, error);
                free(error);
                error = NULL;
                free(buf);
        }

        r = authenticode_digest((const uint8_t *)"MZ", 2, digest, &error);
        check(r < 0 && error, "not a PE: %d %s", r, error);
        free(error);
finish:
        free(base);
        free(signed_image);
        X509_free(cert);
        authenticode_signer_done(&db);
}

/* rotate-keys on an image a vendor signed too: sbsign signs systemd-boot with the vendor's key ("other"),
 * then appends a signature with ours ("db"). Re-signed with "new" in place of "db", sbverify must accept it
 * with the vendor's and the new certificate, not with the old one, and list two signatures. */
static void test_resign(void)
{
        struct authenticode_signer new = load_signer("new");
        X509 *db_cert = load_certificate("db");
        char *dual = temp_path("dual.efi"), *resigned = temp_path("resigned.efi"), *out = NULL,
             *error = NULL;
        uint8_t *image = NULL, *result = NULL, *again = NULL;
        size_t size = 0, result_size = 0, again_size = 0;
        int r;

        check(run_quiet("sbsign --key %s/other.key --cert %s/other.pem --output %s.1 %s && "
                        "sbsign --key %s/db.key --cert %s/db.pem --output %s %s.1",
                        tmpdir, tmpdir, dual, SYSTEMD_BOOT, tmpdir, tmpdir, dual, dual),
              "sbsign twice");
        image = test_read_file(dual, &size);
        r = image ? authenticode_resign(image, size, db_cert, &new, &result, &result_size, &error) : -EIO;
        check(r == 0, "resign: %d %s", r, error);
        if (r == 0 && test_write_file(resigned, result, result_size)) {
                for (const char *const *c = (const char *const[]){"other", "new", NULL}; *c; c++) {
                        check(run_command(&out, "sbverify --cert %s/%s.pem %s", tmpdir, *c, resigned) == 0,
                              "sbverify --cert %s.pem rejects the re-signed image:\n%s", *c, out);
                        free(out);
                }
                check(run_command(&out, "sbverify --cert %s/db.pem %s", tmpdir, resigned) != 0,
                      "sbverify --cert db.pem accepts the re-signed image:\n%s", out);
                free(out);
                check(run_command(&out, "sbverify --list %s 2>/dev/null | grep -c '^signature '",
                                  resigned) == 0 &&
                              strcmp(out, "2\n") == 0,
                      "sbverify --list: %s signatures, expected 2", out);
                free(out);
                /* Again: nothing of the old key is left, ours is replaced, the vendor's stays. */
                r = authenticode_resign(result, result_size, new.certificate, &new, &again, &again_size,
                                        &error);
                check(r == 0 && again_size == result_size && memcmp(again, result, result_size) == 0,
                      "re-signing with the same key again changes the image");
        }
        free(image);
        free(result);
        free(again);
        free(error);
        free(dual);
        free(resigned);
        X509_free(db_cert);
        authenticode_signer_done(&new);
}

int main(void)
{
        const char *lanzaboote_stub = getenv("LANZABOOTE_STUB");

        rng_seed(SEED);
        if (!mkdtemp(tmpdir))
                abort();
        check(make_keys(), "openssl makes the throwaway keys");

        test_vectors();
        test_sign(SYSTEMD_BOOT, "systemd-boot");
        test_sign(DEBIAN_STUB, "debian-stub");
        if (lanzaboote_stub)
                test_sign(lanzaboote_stub, "lanzaboote-stub");
        else
                printf("LANZABOOTE_STUB not set (built with -Defi=false): Debian's binaries only\n");
        test_key_errors();
        test_malformed();
        test_resign();

        rm_rf(tmpdir);
        return tests_finish();
}
