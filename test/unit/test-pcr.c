/* SPDX-License-Identifier: MIT */
/* PCR 11 prediction: banks, the extend operation, phase paths, and the sections of stub images in both
 * modes. The absolute values come from Debian's systemd-measure 252 (the oracle); the shell test
 * test-measure.sh compares against it on random inputs as well. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pcr.h"
#include "pe-synth.h"
#include "pe.h"
#include "tests.h"
#include "util.h"

static void hex_of(enum pcr_bank bank, const uint8_t *value, char *ret)
{
        pcr_hex(bank, value, ret);
}

static struct pcr_digests digests_of(const void *data, size_t size)
{
        struct pcr_digests d;

        if (pcr_digests_of(data, size, &d) < 0)
                abort();
        return d;
}

static void test_banks(void)
{
        unsigned banks = 0;

        check(pcr_banks_parse("sha1,SHA256", &banks) == 0 && banks == 3, "banks %#x", banks);
        check(pcr_banks_parse("Sha512", &banks) == 0 && banks == 11, "banks %#x", banks);
        check(pcr_banks_parse("", &banks) == -EINVAL, "empty list accepted");
        check(pcr_banks_parse("sha1,", &banks) == -EINVAL, "trailing comma accepted");
        check(pcr_banks_parse("sha3", &banks) == -EINVAL, "unknown bank accepted");
        check(pcr_banks_parse("sha2567", &banks) == -EINVAL, "prefix match accepted");
        check(pcr_bank_from_tpm_alg(TPM2_ALG_SHA384) == PCR_BANK_SHA384, "sha384 alg");
        check(pcr_bank_from_tpm_alg(0x0012) == -EOPNOTSUPP, "SM3 is not a bank we know");
}

static void test_extend(void)
{
        uint8_t pcr[PCR_DIGEST_MAX] = {}, buf[64] = {}, expected[32];
        struct pcr_digests d = digests_of("abc", 3);

        memcpy(buf + 32, d.d[PCR_BANK_SHA256], 32);
        EVP_Digest(buf, 64, expected, NULL, EVP_sha256(), NULL);
        check(pcr_extend(PCR_BANK_SHA256, pcr, d.d[PCR_BANK_SHA256]) == 0 && memcmp(pcr, expected, 32) == 0,
              "sha256 extend");
}

static void test_phases(void)
{
        char *in[] = {"b", "a::", "a", "", ":", "enter-initrd::leave-initrd", NULL};
        char **out = NULL;
        struct pcr_digests a = {}, b = {};

        check(pcr_phases_normalize(NULL, &out) == 0 && strv_length(out) == 4 &&
                      strcmp(out[3], "enter-initrd:leave-initrd:sysinit:ready") == 0,
              "default phases");
        strv_free(out);
        check(pcr_phases_normalize(in, &out) == 0 && strv_length(out) == 4 && strcmp(out[0], "") == 0 &&
                      strcmp(out[1], "a") == 0 && strcmp(out[2], "b") == 0 &&
                      strcmp(out[3], "enter-initrd:leave-initrd") == 0,
              "normalised, sorted, unique");
        strv_free(out);

        pcr11_extend_phase(&a, "x::y:");
        pcr11_extend_phase(&b, "x");
        pcr11_extend_phase(&b, "y");
        check(memcmp(&a, &b, sizeof(a)) == 0, "empty words are skipped");
        memset(&a, 0, sizeof(a));
        pcr11_extend_phase(&a, "");
        check(memcmp(&a, &(struct pcr_digests){}, sizeof(a)) == 0, "the empty phase extends nothing");
}

/* systemd-measure calculate --linux=F --osrel=F --cmdline=EMPTY --phase= --phase=enter-initrd, where F holds
 * "linux-bytes" and "ID=test\n". */
static void test_systemd_measure_vector(void)
{
        struct pcr11_sections s = {};
        struct pcr_digests v;
        char hex[2 * PCR_DIGEST_MAX + 1];

        s.present[UNIFIED_SECTION_LINUX] = true;
        s.data[UNIFIED_SECTION_LINUX] = digests_of("linux-bytes", 11);
        s.present[UNIFIED_SECTION_OSREL] = true;
        s.data[UNIFIED_SECTION_OSREL] = digests_of("ID=test\n", 8);
        check(pcr11_after_stub(&s, &v) == 0, "after stub");
        hex_of(PCR_BANK_SHA1, v.d[PCR_BANK_SHA1], hex);
        check(strcmp(hex, "ae1c898eb37bfe2cec9e71eb018b42e2d7c488af") == 0, "sha1 %s", hex);
        hex_of(PCR_BANK_SHA256, v.d[PCR_BANK_SHA256], hex);
        check(strcmp(hex, "7aa4b4c9ac5b7e86181a4a45cf6f3604debe15b88efc2a91eb1a1735201fc60f") == 0,
              "sha256 %s", hex);
        pcr11_extend_phase(&v, "enter-initrd");
        hex_of(PCR_BANK_SHA1, v.d[PCR_BANK_SHA1], hex);
        check(strcmp(hex, "8b130e727cc0433c0b29af30da80290addb30532") == 0, "sha1 enter-initrd %s", hex);
        hex_of(PCR_BANK_SHA256, v.d[PCR_BANK_SHA256], hex);
        check(strcmp(hex, "6f0b8e3e09686ed31ddbe30d7d706a01342f436a0004799bf8e0d8a90198ac82") == 0,
              "sha256 enter-initrd %s", hex);
}

static struct pe_section_header *section_header(uint8_t *image, size_t size, const char *name)
{
        struct pe_image img;

        if (pe_parse(image, size, PE_LAYOUT_FILE, &img) < 0)
                abort();
        return (struct pe_section_header *)pe_find_section(&img, name);
}

static uint8_t *section_bytes(uint8_t *image, size_t size, const char *name)
{
        return image + section_header(image, size, name)->PointerToRawData;
}

static struct pcr_digests filled(uint8_t value, size_t size)
{
        uint8_t *buf = malloc(size);
        struct pcr_digests d;

        memset(buf, value, size);
        d = digests_of(buf, size);
        free(buf);
        return d;
}

/* Section i of a synth_pe() image is filled with i + 1. */
static void test_image_embedded(void)
{
        static const struct synth_section sections[] = {
                {".text", 0x300}, {".osrel", 10}, {".linux", 300},
                {".pcrsig", 50},  {".sbat", 20},  {".splash", 0},
        };
        size_t size;
        uint8_t *image = synth_pe(sections, ELEMENTSOF(sections), &size);
        struct pcr11_sections s, expected = {};
        struct pcr_digests value, want, manual;
        uint8_t tail[0x200 + 16] = {};
        char *kernel = (char *)1, *initrd = (char *)1;

        check(pcr11_external_paths(image, size, &kernel, &initrd, NULL) == 0 && !kernel && !initrd,
              "embedded mode has no external paths");
        check(pcr11_sections_from_image(image, size, NULL, NULL, &s, NULL) == 0, "sections");
        expected.present[UNIFIED_SECTION_OSREL] = expected.present[UNIFIED_SECTION_LINUX] =
                expected.present[UNIFIED_SECTION_SBAT] = true;
        expected.data[UNIFIED_SECTION_OSREL] = filled(2, 10);
        expected.data[UNIFIED_SECTION_LINUX] = filled(3, 300);
        expected.data[UNIFIED_SECTION_SBAT] = filled(5, 20);
        check(memcmp(&s, &expected, sizeof(s)) == 0, "present sections and their digests; .pcrsig and the "
                                                     "empty .splash left out");

        /* Canonical order, not file order: .linux, .osrel, .sbat. */
        manual = (struct pcr_digests){};
        for (size_t i = 0; i < 3; i++) {
                static const char *const names[] = {".linux", ".osrel", ".sbat"};
                static const enum unified_section order[] = {UNIFIED_SECTION_LINUX, UNIFIED_SECTION_OSREL,
                                                             UNIFIED_SECTION_SBAT};
                struct pcr_digests name = digests_of(names[i], strlen(names[i]) + 1);
                pcr_extend_all(&manual, &name);
                pcr_extend_all(&manual, &expected.data[order[i]]);
        }
        check(pcr11_after_stub(&s, &value) == 0 && memcmp(&value, &manual, sizeof(value)) == 0,
              "name and data events in canonical order");

        /* A VirtualSize beyond the raw data: the loader's zero fill is measured too. */
        section_header(image, size, ".osrel")->VirtualSize = 0x200 + 16;
        memset(tail, 2, 10);
        want = digests_of(tail, sizeof(tail));
        check(pcr11_sections_from_image(image, size, NULL, NULL, &s, NULL) == 0 &&
                      memcmp(&s.data[UNIFIED_SECTION_OSREL], &want, sizeof(want)) == 0,
              "zero fill measured");
        free(image);
}

static void test_image_external(void)
{
        static const char kpath[] = "\\EFI\\nixos\\kernel", ipath[] = "\\EFI\\nixos\\initrd";
        const struct synth_section sections[] = {
                {".text", 0x300},
                {".osrel", 10},
                {".linux", sizeof(kpath) - 1},
                {".linuxh", 32},
                {".initrd", sizeof(ipath) - 1},
                {".initrdh", 32},
        };
        struct pcr_digests kernel = digests_of("KERNEL", 6), initrd = digests_of("INITRD", 6),
                           other = digests_of("OTHER", 5);
        _cleanup_free_ char *kernel_rel = NULL, *initrd_rel = NULL, *message = NULL;
        struct pcr11_sections s;
        size_t size;
        uint8_t *image = synth_pe(sections, ELEMENTSOF(sections), &size);

        memcpy(section_bytes(image, size, ".linux"), kpath, sizeof(kpath) - 1);
        memcpy(section_bytes(image, size, ".initrd"), ipath, sizeof(ipath) - 1);
        memcpy(section_bytes(image, size, ".linuxh"), kernel.d[PCR_BANK_SHA256], 32);
        memcpy(section_bytes(image, size, ".initrdh"), initrd.d[PCR_BANK_SHA256], 32);

        check(pcr11_external_paths(image, size, &kernel_rel, &initrd_rel, NULL) == 0 && kernel_rel &&
                      strcmp(kernel_rel, "EFI/nixos/kernel") == 0 && initrd_rel &&
                      strcmp(initrd_rel, "EFI/nixos/initrd") == 0,
              "external paths %s %s", kernel_rel, initrd_rel);
        check(pcr11_sections_from_image(image, size, &kernel, &initrd, &s, NULL) == 0 &&
                      s.present[UNIFIED_SECTION_LINUX] && s.present[UNIFIED_SECTION_INITRD] &&
                      memcmp(&s.data[UNIFIED_SECTION_LINUX], &kernel, sizeof(kernel)) == 0 &&
                      memcmp(&s.data[UNIFIED_SECTION_INITRD], &initrd, sizeof(initrd)) == 0,
              "the files stand in for the path sections");
        check(pcr11_sections_from_image(image, size, &other, &initrd, &s, &message) == -EBADMSG && message &&
                      strstr(message, "kernel file does not match"),
              "a kernel the stub does not pin: %s", message);
        free(message);
        message = NULL;
        check(pcr11_sections_from_image(image, size, &kernel, NULL, &s, &message) == -EINVAL,
              "no initrd file given");
        free(image);
}

static void test_uefi_paths(void)
{
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                {"\\EFI\\nixos\\k.efi", "EFI/nixos/k.efi"},
                {"\\k.efi", "k.efi"},
                {"\\EFI\\..\\k", NULL},
                {"\\EFI\\.\\k", NULL},
                {"\\EFI\\\\k", NULL},
                {"\\EFI\\", NULL},
                {"EFI\\k", NULL},
                {"\\", NULL},
                {"", NULL},
                {"\\EFI/k", NULL},
                {"\\EFI\\k\n", NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *out = NULL;
                int r = uefi_path_to_relative(cases[i].in, strlen(cases[i].in), &out);
                check(cases[i].out ? r == 0 && strcmp(out, cases[i].out) == 0 : r == -EBADMSG,
                      "%s → %s (%d)", cases[i].in, out, r);
                free(out);
        }
        char *out = NULL;
        check(uefi_path_to_relative("\\a\0\\..", 6, &out) == 0 && strcmp(out, "a") == 0, "stops at a NUL");
        free(out);
}

int main(void)
{
        test_banks();
        test_extend();
        test_phases();
        test_systemd_measure_vector();
        test_image_embedded();
        test_image_external();
        test_uefi_paths();
        return tests_finish();
}
