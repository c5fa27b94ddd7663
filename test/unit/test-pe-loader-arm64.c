/* SPDX-License-Identifier: MIT */
/* The kernel PE loader as the aa64 stub builds it (PE_LOADER_MACHINE is ARM64 here, see meson.build): an
 * arm64 Image-shaped kernel with 64 KiB SectionAlignment, as Debian's arm64 kernels have, and a DIR64 base
 * relocation, as relocatable arm64 kernels (Ubuntu's) carry. x86-64 kernels are refused. */
#include <stdlib.h>
#include <string.h>

#include "pe-loader.h"
#include "tests.h"

_Static_assert(PE_LOADER_MACHINE == IMAGE_FILE_MACHINE_ARM64, "built as the aa64 stub's loader");

/* File: headers 0x000, .text 0x400, .reloc 0x600, .data 0x800, 0x200 each. Memory: 64 KiB apart. */
#define ALIGN        UINT32_C(0x10000)
#define LFANEW       0x40
#define N_SECTIONS   3
#define TEXT_RVA     ALIGN
#define RELOC_RVA    (2 * ALIGN)
#define DATA_RVA     (3 * ALIGN)
#define IMAGE_SIZE   (4 * ALIGN)
#define POINTER_OFF  0x18 /* in .data: a pointer to the entry point, relocated */
#define FILE_SIZE    0xa00
#define IMAGE_BASE   UINT64_C(0)
#define LOAD_ADDRESS UINT64_C(0x48a0000)

static size_t headers_offset(void)
{
        return LFANEW + 4 + sizeof(struct pe_file_header);
}

static void put_section(uint8_t *buf, size_t i, const char *name, uint32_t rva, uint32_t size, uint32_t raw,
                        uint32_t flags)
{
        struct pe_section_header sh = {
                .VirtualSize = size,
                .VirtualAddress = rva,
                .SizeOfRawData = 0x200,
                .PointerToRawData = raw,
                .Characteristics = flags,
        };
        size_t table = headers_offset() + sizeof(struct pe_optional_header) +
                       IMAGE_NUMBEROF_DIRECTORY_ENTRIES * sizeof(struct pe_data_directory);

        memcpy(sh.Name, name, strlen(name));
        memcpy(buf + table + i * sizeof(sh), &sh, sizeof(sh));
}

/* reloc_type: the type of the one real relocation entry. */
static uint8_t *build(uint16_t machine, uint16_t reloc_type)
{
        uint8_t *buf = calloc(1, FILE_SIZE);
        struct pe_dos_header dos = {.e_magic = IMAGE_DOS_SIGNATURE, .e_lfanew = LFANEW};
        struct pe_file_header fh = {
                .Machine = machine,
                .NumberOfSections = N_SECTIONS,
                .SizeOfOptionalHeader = sizeof(struct pe_optional_header) +
                                        IMAGE_NUMBEROF_DIRECTORY_ENTRIES * sizeof(struct pe_data_directory),
        };
        struct pe_optional_header oh = {
                .Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC,
                .AddressOfEntryPoint = TEXT_RVA,
                .ImageBase = IMAGE_BASE,
                .SectionAlignment = ALIGN,
                .FileAlignment = 0x200,
                .MajorImageVersion = 1,
                .SizeOfImage = IMAGE_SIZE,
                .SizeOfHeaders = 0x400,
                .Subsystem = IMAGE_SUBSYSTEM_EFI_APPLICATION,
                .DllCharacteristics = IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
                .NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES,
        };
        struct pe_data_directory reloc_dir = {.VirtualAddress = RELOC_RVA, .Size = 12};
        struct pe_base_relocation_block block = {.VirtualAddress = DATA_RVA, .SizeOfBlock = 12};
        uint16_t entries[2] = {(uint16_t)(reloc_type << 12 | POINTER_OFF), IMAGE_REL_BASED_ABSOLUTE << 12};
        uint64_t pointer = IMAGE_BASE + TEXT_RVA;

        if (!buf)
                abort();
        memcpy(buf, &dos, sizeof(dos));
        memcpy(buf + LFANEW, IMAGE_NT_SIGNATURE, 4);
        memcpy(buf + LFANEW + 4, &fh, sizeof(fh));
        memcpy(buf + headers_offset(), &oh, sizeof(oh));
        memcpy(buf + headers_offset() + sizeof(oh) + IMAGE_DIRECTORY_ENTRY_BASERELOC * sizeof(reloc_dir),
               &reloc_dir, sizeof(reloc_dir));
        put_section(buf, 0, ".text", TEXT_RVA, 0x200, 0x400,
                    IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ);
        put_section(buf, 1, ".reloc", RELOC_RVA, 12, 0x600,
                    IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_DISCARDABLE);
        put_section(buf, 2, ".data", DATA_RVA, 0x200, 0x800,
                    IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE);
        memset(buf + 0x400, 0xd5, 0x200); /* stands for code */
        memcpy(buf + 0x600, &block, sizeof(block));
        memcpy(buf + 0x600 + sizeof(block), entries, sizeof(entries));
        memcpy(buf + 0x800 + POINTER_OFF, &pointer, sizeof(pointer));
        return buf;
}

static void test_loads_and_relocates(void)
{
        uint8_t *file = build(IMAGE_FILE_MACHINE_ARM64, IMAGE_REL_BASED_DIR64), *dest;
        struct pe_loaded info;
        size_t image_size = 0, alignment = 0;
        uint64_t pointer;
        int r;

        r = pe_loader_inspect(file, FILE_SIZE, &image_size, &alignment);
        check(r == 0 && image_size == IMAGE_SIZE && alignment == ALIGN, "inspect: %d, %zu, %zu", r,
              image_size, alignment);
        dest = malloc(IMAGE_SIZE);
        if (!dest)
                abort();
        r = pe_loader_load(file, FILE_SIZE, dest, IMAGE_SIZE, LOAD_ADDRESS, &info);
        check(r == 0, "load: %d", r);
        memcpy(&pointer, dest + DATA_RVA + POINTER_OFF, sizeof(pointer));
        check(pointer == LOAD_ADDRESS + TEXT_RVA, "relocated pointer 0x%llx", (unsigned long long)pointer);
        check(info.entry_point == TEXT_RVA && info.nx_compat && info.n_sections == N_SECTIONS, "info");
        check(dest[TEXT_RVA] == 0xd5 && dest[TEXT_RVA + 0x200] == 0 && dest[RELOC_RVA - 1] == 0,
              "sections at 64 KiB, zero fill between");
        r = pe_loader_load(file, FILE_SIZE, dest, IMAGE_SIZE, LOAD_ADDRESS + 0x1000, &info);
        check(r == -PE_EINVAL, "load address off the 64 KiB alignment: %d", r);
        free(dest);
        free(file);
}

static void test_refusals(void)
{
        static const struct {
                const char *what;
                uint16_t machine, reloc_type;
        } cases[] = {
                {"x86-64 kernel", IMAGE_FILE_MACHINE_AMD64, IMAGE_REL_BASED_DIR64},
                {"relocation type 3 (HIGHLOW)", IMAGE_FILE_MACHINE_ARM64, 3},
                {"relocation type 5 (ARM MOV32)", IMAGE_FILE_MACHINE_ARM64, 5},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t *file = build(cases[i].machine, cases[i].reloc_type);
                size_t image_size, alignment;
                int r = pe_loader_inspect(file, FILE_SIZE, &image_size, &alignment);

                check(r == -PE_EOPNOTSUPP, "%s: %d", cases[i].what, r);
                free(file);
        }
}

int main(void)
{
        test_loads_and_relocates();
        test_refusals();
        return tests_finish();
}
