/* Khiên — formats: a bounds-checked parser for PE (Portable Executable) files.
 *
 * kh_pe_parse() reads the headers, sections, imports (standard and
 * delay-load), exports, resources, version information, Rich header,
 * overlay and Authenticode signatures of one file held in memory, and
 * answers with plain values: integers, and byte strings that point either
 * into the caller's data or into memory owned by the kh_pe object.
 *
 * The rules followed are those of yara 4.2.3's pe module, so that the YARA
 * `pe` module built on top of this parser (engine/modules/pe.c) sees the
 * same numbers yara sees, including yara's quirks (rva-to-offset rounding,
 * the order resources are visited in, which imports are counted).
 *
 * Input is hostile: every read is bounds-checked, every loop is capped
 * (limits below), recursion is limited to the three levels of the resource
 * tree and to the nesting of signatures, and nothing is allocated in
 * proportion to a count read from the file without a cap.
 *
 * Ownership: kh_pe_parse() returns, through *out, an object the caller
 * destroys with kh_pe_destroy(). kh_pe_bytes values are borrowed: they
 * live as long as both the kh_pe object and the parsed data.
 */
#ifndef KH_FORMATS_PE_H
#define KH_FORMATS_PE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Limits (as yara's where yara has one) ---------------------------------- */
#define KH_PE_MAX_SECTIONS 96u          /* yara MAX_PE_SECTIONS */
#define KH_PE_MAX_IMPORTS 16384u        /* descriptors, and functions in total */
#define KH_PE_MAX_DELAY_IMPORTS 16384u  /* delay-load functions in total */
#define KH_PE_MAX_EXPORTS 8192u         /* yara MAX_PE_EXPORTS */
#define KH_PE_MAX_EXPORT_NAME 512u
#define KH_PE_MAX_IMPORT_NAME 512u
#define KH_PE_MAX_RESOURCES 65537u      /* yara stops collecting after 65536 + 1 */
#define KH_PE_MAX_RSRC_VISITS (1u << 20) /* resource directory entries walked */
#define KH_PE_MAX_VERSION_INFOS 4096u   /* version_info_list entries */
#define KH_PE_MAX_VERSION_RSRC 64u      /* version resources parsed */
#define KH_PE_MAX_SIGNATURES 16u        /* yara MAX_PE_CERTS */

/* A byte string: p == NULL means absent (undefined), n may be 0. */
typedef struct kh_pe_bytes {
    const uint8_t *p;
    uint32_t n;
} kh_pe_bytes;

typedef struct kh_pe_section {
    kh_pe_bytes name;      /* the 8-byte name, trailing NULs removed */
    kh_pe_bytes full_name; /* "/123" names resolved in the COFF string table */
    uint32_t characteristics, virtual_address, virtual_size, raw_data_offset, raw_data_size;
    uint32_t pointer_to_relocations, pointer_to_line_numbers;
    uint16_t number_of_relocations, number_of_line_numbers;
} kh_pe_section;

typedef struct kh_pe_func {
    kh_pe_bytes name; /* absent for an ordinal import of an unknown dll: then "ordN" */
    uint16_t ordinal;
    uint8_t has_ordinal;
} kh_pe_func;

typedef struct kh_pe_dll {
    kh_pe_bytes name;
    uint32_t first, nfuncs; /* functions funcs[first, first + nfuncs) */
} kh_pe_dll;

typedef struct kh_pe_export {
    uint32_t ordinal;
    int64_t offset;       /* file offset of the function, or -1 */
    uint8_t has_offset;   /* 0 for forwarders */
    kh_pe_bytes name;     /* absent when exported by ordinal only */
    kh_pe_bytes forward;  /* "DLL.Function" for forwarders */
} kh_pe_export;

typedef struct kh_pe_resource {
    uint32_t rva, length;
    int64_t offset; /* -1 when the rva maps to no file offset */
    int32_t type, id, language;                       /* used when the *_string is absent */
    kh_pe_bytes type_string, name_string, language_string; /* raw UTF-16LE */
} kh_pe_resource;

typedef struct kh_pe_vinfo {
    kh_pe_bytes key, value; /* ASCII (low bytes of UTF-16), as yara */
} kh_pe_vinfo;

typedef struct kh_pe_signature {
    kh_pe_bytes thumbprint, issuer, subject, algorithm, algorithm_oid, serial;
    int64_t version, not_before, not_after;
} kh_pe_signature;

/* What kh_pe_parse found. Fields of a part that is absent keep has_* = 0. */
typedef struct kh_pe {
    const uint8_t *data;
    size_t len;
    uint8_t is_64; /* optional header magic 0x20b */

    /* File header */
    uint16_t machine, number_of_sections, size_of_optional_header, characteristics;
    uint32_t timestamp, pointer_to_symbol_table, number_of_symbols;
    uint32_t nt_offset; /* e_lfanew */

    /* Optional header */
    uint16_t opthdr_magic, subsystem, dll_characteristics;
    uint8_t linker_major, linker_minor;
    uint16_t os_major, os_minor, image_major, image_minor, subsystem_major, subsystem_minor;
    uint32_t entry_point_raw, size_of_code, size_of_initialized_data, size_of_uninitialized_data;
    uint32_t base_of_code, base_of_data, section_alignment, file_alignment, win32_version_value;
    uint32_t size_of_image, size_of_headers, checksum, loader_flags, number_of_rva_and_sizes;
    uint64_t image_base, stack_reserve, stack_commit, heap_reserve, heap_commit;
    int64_t entry_point; /* file offset of the entry point, -1 if unmapped (yara sets -1 too) */

    uint32_t ndirs; /* data directories present (<= 16) */
    struct {
        uint32_t virtual_address, size;
    } dirs[16];

    uint32_t nsections;
    kh_pe_section sections[KH_PE_MAX_SECTIONS];

    int64_t overlay_offset, overlay_size;

    /* Rich header */
    uint8_t has_rich;
    uint32_t rich_offset, rich_length, rich_key;
    kh_pe_bytes rich_raw, rich_clear;

    kh_pe_bytes pdb_path;

    /* Imports. has_imports: the counters are defined (always, for a PE). */
    uint32_t number_of_imports, number_of_imported_functions;
    kh_pe_dll *dlls;
    uint32_t ndlls;
    kh_pe_func *funcs;
    uint32_t nfuncs;
    uint32_t number_of_delayed_imports, number_of_delayed_imported_functions;
    kh_pe_dll *ddlls;
    uint32_t nddlls;
    kh_pe_func *dfuncs;
    uint32_t ndfuncs;

    /* Exports */
    uint8_t has_export_dir;
    uint32_t export_timestamp;
    kh_pe_bytes dll_name;
    kh_pe_export *exports;
    uint32_t nexports;

    /* Resources */
    uint8_t has_rsrc_dir;
    uint32_t resource_timestamp;
    uint16_t resource_major, resource_minor;
    kh_pe_resource *resources;
    uint32_t nresources;
    kh_pe_vinfo *vinfos;
    uint32_t nvinfos;

    /* Authenticode. has_security_dir: number_of_signatures is defined. */
    uint8_t has_security_dir;
    kh_pe_signature signatures[KH_PE_MAX_SIGNATURES];
    uint32_t nsignatures;

    struct kh_pe_pool *pool; /* memory for strings the file does not hold as-is */
} kh_pe;

/* ---- Parsing ---------------------------------------------------------------- */

/** Parses data[0, len) as a PE file.
 * @param[out] out  set on success to a new object (destroy with kh_pe_destroy)
 * @return 0; KH_EFORMAT if the data is not a PE file yara would accept
 *         (bad MZ/PE signature, truncated headers, unknown machine);
 *         KH_ENOMEM. Damage after the headers is never an error: the
 *         affected parts are simply absent. */
int kh_pe_parse(kh_pe **out, const uint8_t *data, size_t len);
void kh_pe_destroy(kh_pe *pe);

/** The file offset of an rva as yara computes it (sections rounded down to
 * min(FileAlignment, 0x200)); -1 when it maps to nothing in the file. */
int64_t kh_pe_rva_to_offset(const kh_pe *pe, uint64_t rva);

/** The name yara (and pefile) give an import by ordinal: a known name for
 * ws2_32/wsock32/oleaut32, else "ordN". Writes a NUL-terminated string. */
void kh_pe_ord_name(const uint8_t *dll, size_t dll_len, uint16_t ord, char out[64]);

/** Parses only the headers into *pe (no allocation; nothing to destroy):
 * enough for kh_pe_rva_to_offset(). Returns 0 or KH_EFORMAT. */
int kh_pe_headers(kh_pe *pe, const uint8_t *data, size_t len);

/** yara's pe.calculate_checksum() over the whole data of a PE file. */
uint32_t kh_pe_checksum(const uint8_t *data, size_t len);

/** The import hash (md5 hex, 33 bytes with NUL) of the standard imports. */
int kh_pe_imphash(const kh_pe *pe, char out[33]);

/** How the two import-hash users cut a DLL's extension: yara's pe.imphash()
 * drops anything starting with ".dll", ".ocx" or ".sys" in any case;
 * ClamAV's .imp signatures drop exactly ".dll", ".ocx", ".sys" in lower or
 * upper case. */
enum kh_pe_imphash_style { KH_PE_IMPHASH_YARA = 0, KH_PE_IMPHASH_CLAMAV = 1 };
/** Appends the text both hash: "dll.function" in lower case for every
 * standard import, comma-separated (pefile's imphash string); functions
 * imported by ordinal by the name kh_pe_ord_name() gives. Returns 0 or a
 * kh_buf error (KH_ENOMEM, KH_ELIMIT). */
struct kh_buf;
int kh_pe_imphash_text(const kh_pe *pe, int style, struct kh_buf *out);

/* ---- Internals shared with authenticode.c ----------------------------------- */

/* Copies n bytes into the object's pool (NUL added). NULL on failure/limit. */
const uint8_t *kh_pe__keep(kh_pe *pe, const void *p, size_t n);
/* Parses the certificate table at data[off, off+size) into pe->signatures. */
int kh_pe__authenticode(kh_pe *pe, uint32_t off, uint32_t size);

#endif
