/* SPDX-License-Identifier: MIT */
#pragma once

/* PE/COFF (Microsoft "PE Format" specification) for PE32+ images, and a parser that trusts no field. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_DOS_SIGNATURE 0x5A4D /* "MZ" */
#define IMAGE_NT_SIGNATURE  "PE\0\0"

/* Characteristics: no base relocations, the image runs at ImageBase only. */
#define IMAGE_FILE_RELOCS_STRIPPED 0x0001

#define IMAGE_FILE_MACHINE_AMD64 0x8664
#define IMAGE_FILE_MACHINE_ARM64 0xAA64

#define IMAGE_NT_OPTIONAL_HDR64_MAGIC 0x20B /* PE32+ */

#define IMAGE_SUBSYSTEM_EFI_APPLICATION 10

#define IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA 0x0020
#define IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE    0x0040
#define IMAGE_DLLCHARACTERISTICS_NX_COMPAT       0x0100

#define IMAGE_SCN_CNT_CODE               0x00000020
#define IMAGE_SCN_CNT_INITIALIZED_DATA   0x00000040
#define IMAGE_SCN_CNT_UNINITIALIZED_DATA 0x00000080
#define IMAGE_SCN_MEM_DISCARDABLE        0x02000000
#define IMAGE_SCN_MEM_EXECUTE            0x20000000
#define IMAGE_SCN_MEM_READ               0x40000000
#define IMAGE_SCN_MEM_WRITE              0x80000000

#define IMAGE_REL_BASED_ABSOLUTE 0
#define IMAGE_REL_BASED_DIR64    10

#define IMAGE_DIRECTORY_ENTRY_SECURITY   4 /* the Certificate Table: its VirtualAddress is a file offset */
#define IMAGE_DIRECTORY_ENTRY_BASERELOC  5
#define IMAGE_DIRECTORY_ENTRY_DEBUG      6
#define IMAGE_NUMBEROF_DIRECTORY_ENTRIES 16

#define IMAGE_SIZEOF_SHORT_NAME 8

/* The limit of the Windows loader, which EDK2 and sd-stub apply too. */
#define PE_MAX_SECTIONS 96

/* All structures are packed, so they can be laid over a buffer at any alignment. Their integers are
 * little-endian, as on every architecture we build for. */

struct pe_dos_header {
        uint16_t e_magic;
        uint16_t e_cblp;
        uint16_t e_cp;
        uint16_t e_crlc;
        uint16_t e_cparhdr;
        uint16_t e_minalloc;
        uint16_t e_maxalloc;
        uint16_t e_ss;
        uint16_t e_sp;
        uint16_t e_csum;
        uint16_t e_ip;
        uint16_t e_cs;
        uint16_t e_lfarlc;
        uint16_t e_ovno;
        uint16_t e_res[4];
        uint16_t e_oemid;
        uint16_t e_oeminfo;
        uint16_t e_res2[10];
        uint32_t e_lfanew; /* file offset of IMAGE_NT_SIGNATURE, followed by struct pe_file_header */
} __attribute__((packed));

/* The COFF file header. */
struct pe_file_header {
        uint16_t Machine;
        uint16_t NumberOfSections;
        uint32_t TimeDateStamp;
        uint32_t PointerToSymbolTable;
        uint32_t NumberOfSymbols;
        uint16_t SizeOfOptionalHeader;
        uint16_t Characteristics;
} __attribute__((packed));

struct pe_data_directory {
        uint32_t VirtualAddress;
        uint32_t Size;
} __attribute__((packed));

/* The PE32+ optional header. NumberOfRvaAndSizes entries of DataDirectory follow the fixed part. */
struct pe_optional_header {
        uint16_t Magic;
        uint8_t MajorLinkerVersion;
        uint8_t MinorLinkerVersion;
        uint32_t SizeOfCode;
        uint32_t SizeOfInitializedData;
        uint32_t SizeOfUninitializedData;
        uint32_t AddressOfEntryPoint;
        uint32_t BaseOfCode;
        uint64_t ImageBase;
        uint32_t SectionAlignment;
        uint32_t FileAlignment;
        uint16_t MajorOperatingSystemVersion;
        uint16_t MinorOperatingSystemVersion;
        uint16_t MajorImageVersion;
        uint16_t MinorImageVersion;
        uint16_t MajorSubsystemVersion;
        uint16_t MinorSubsystemVersion;
        uint32_t Win32VersionValue;
        uint32_t SizeOfImage;
        uint32_t SizeOfHeaders;
        uint32_t CheckSum;
        uint16_t Subsystem;
        uint16_t DllCharacteristics;
        uint64_t SizeOfStackReserve;
        uint64_t SizeOfStackCommit;
        uint64_t SizeOfHeapReserve;
        uint64_t SizeOfHeapCommit;
        uint32_t LoaderFlags;
        uint32_t NumberOfRvaAndSizes;
        struct pe_data_directory DataDirectory[];
} __attribute__((packed));

struct pe_section_header {
        uint8_t Name[IMAGE_SIZEOF_SHORT_NAME]; /* NUL-padded; an 8-character name has no NUL */
        uint32_t VirtualSize;
        uint32_t VirtualAddress;
        uint32_t SizeOfRawData;
        uint32_t PointerToRawData;
        uint32_t PointerToRelocations;
        uint32_t PointerToLinenumbers;
        uint16_t NumberOfRelocations;
        uint16_t NumberOfLinenumbers;
        uint32_t Characteristics;
} __attribute__((packed));

/* A block of the base relocation table: SizeOfBlock bytes, this header included, then 16-bit entries of a
 * 4-bit IMAGE_REL_BASED_* type and a 12-bit offset from VirtualAddress. */
struct pe_base_relocation_block {
        uint32_t VirtualAddress;
        uint32_t SizeOfBlock;
} __attribute__((packed));

_Static_assert(sizeof(struct pe_dos_header) == 64, "DOS header size");
_Static_assert(sizeof(struct pe_file_header) == 20, "COFF file header size");
_Static_assert(sizeof(struct pe_optional_header) == 112, "PE32+ optional header size");
_Static_assert(__builtin_offsetof(struct pe_optional_header, CheckSum) == 64, "CheckSum offset");
_Static_assert(sizeof(struct pe_section_header) == 40, "section header size");

/* Negative errno-style results. errno.h does not exist in the freestanding UEFI build; the values are
 * Linux's so host code can pass them to strerror(). */
enum {
        PE_ENOEXEC = 8,     /* not a PE image: no MZ or PE signature */
        PE_EINVAL = 22,     /* bad argument */
        PE_EBADMSG = 74,    /* malformed: a field out of range or a structure out of bounds */
        PE_EOPNOTSUPP = 95, /* a PE image, but not PE32+ for x86-64 or AArch64 */
};

enum pe_layout {
        /* The bytes of a file: section data is at PointerToRawData. */
        PE_LAYOUT_FILE,
        /* An image already loaded, e.g. by the firmware: section data is at VirtualAddress. */
        PE_LAYOUT_MEMORY,
        _PE_LAYOUT_MAX,
};

/* Points into the parsed buffer, which must outlive it. */
struct pe_image {
        const uint8_t *base;
        size_t size;
        enum pe_layout layout;
        const struct pe_file_header *file_header;
        const struct pe_optional_header *optional_header;
        const struct pe_section_header *sections;
        size_t n_sections;
};

/* Validates the headers and the section table of the size bytes at buf, laid out as layout says:
 * - the MZ and PE signatures, e_lfanew past the DOS header and inside the buffer (at any alignment);
 * - Machine AMD64 or ARM64, a PE32+ optional header whose size matches NumberOfRvaAndSizes <= 16;
 * - NumberOfSections <= PE_MAX_SECTIONS, the section table within SizeOfHeaders, SizeOfHeaders within
 *   SizeOfImage and within size; for PE_LAYOUT_MEMORY also SizeOfImage within size;
 * - for every section, VirtualAddress + VirtualSize within SizeOfImage, and for PE_LAYOUT_FILE its raw data
 *   (PointerToRawData + SizeOfRawData) within size.
 * Data directories are not checked: what their VirtualAddress means depends on the entry. */
int pe_parse(const uint8_t *buf, size_t size, enum pe_layout layout, struct pe_image *ret);

/* Whether an 8-byte section name field is exactly name (NUL-padded; a name of 8 characters fills it). */
bool pe_section_name_equal(const uint8_t field[static IMAGE_SIZEOF_SHORT_NAME], const char *name);

/* The first section whose 8-byte name field is exactly name (NUL-padded), or NULL. Never a prefix match:
 * ".linux" does not find ".linuxh" and ".linuxh" does not find ".linux". */
const struct pe_section_header *pe_find_section(const struct pe_image *img, const char *name);

/* The section's data as sd-stub sees it once loaded: VirtualSize bytes, the exact payload length when
 * SizeOfRawData is rounded up to FileAlignment. In PE_LAYOUT_MEMORY they start at VirtualAddress. In
 * PE_LAYOUT_FILE they start at PointerToRawData and stop at SizeOfRawData when VirtualSize is larger: that
 * tail is zero fill the loader adds, not part of the file. A section with VirtualSize 0 yields 0 bytes.
 * Returns -PE_EINVAL when section is not one of img's. */
int pe_section_data(const struct pe_image *img, const struct pe_section_header *section,
                    const uint8_t **ret_data, size_t *ret_size);

/* Entry index of the data directory, or NULL when the image has fewer than index + 1 entries. */
const struct pe_data_directory *pe_data_directory(const struct pe_image *img, size_t index);
