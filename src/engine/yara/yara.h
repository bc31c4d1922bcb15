/* Khiên — engine/yara: the YARA front end (internal API).
 *
 * lexer.c turns rule text into tokens, parser.c builds rules, strings and
 * typed condition expressions into a kh_yset (flat arrays, so a compiled set
 * can be cached and mapped like the ClamAV tables), strings.c lowers each
 * string to a pattern tree of ir.h, exec.c evaluates conditions at scan time.
 */
#ifndef KH_ENGINE_YARA_H
#define KH_ENGINE_YARA_H

#include "engine/ir.h"

/* ---- Limits ------------------------------------------------------------ */
#define KH_Y_MAX_INCLUDE_DEPTH 16u
#define KH_Y_MAX_STRINGS_PER_RULE 10000u
#define KH_Y_MAX_EXPR_DEPTH 200u
#define KH_Y_MAX_LOOP_VARS 32u
#define KH_Y_MAX_RULES (1u << 22)
#define KH_Y_MAX_MATCHES 1000000u     /* per string and file, as yara */
#define KH_Y_MAX_MATCH_DATA 512u      /* bytes of match data kept, as yara */
#define KH_Y_RE_SCAN_LIMIT 4096u      /* longest regex match, as yara's RE_SCAN_LIMIT */

/* ---- Value types of expressions ----------------------------------------- */
enum kh_ytype {
    KH_YT_VOID = 0,
    KH_YT_BOOL,
    KH_YT_INT,
    KH_YT_FLOAT,
    KH_YT_STR,
    KH_YT_REGEX,
    KH_YT_STRUCT,
    KH_YT_ARRAY,
    KH_YT_DICT,
    KH_YT_FUNC,
    KH_YT_STRSET, /* a set of strings (for `of`) */
    KH_YT_RULESET,
    KH_YT_RANGE,
};

/* ---- Expression nodes ------------------------------------------------------ */
enum kh_yop {
    KH_YO_CONST_INT = 1, /* imm.i */
    KH_YO_CONST_FLT,     /* imm.f */
    KH_YO_CONST_STR,     /* a = bytes offset, b = length */
    KH_YO_CONST_BOOL,    /* imm.i */
    KH_YO_REGEX,         /* a = regex index */
    KH_YO_FILESIZE,
    KH_YO_ENTRYPOINT,
    KH_YO_EXTERNAL,      /* a = external index */
    KH_YO_VAR,           /* a = loop variable slot */
    KH_YO_NOT, KH_YO_AND, KH_YO_OR, KH_YO_DEFINED,
    KH_YO_NEG, KH_YO_BNOT,
    KH_YO_ADD, KH_YO_SUB, KH_YO_MUL, KH_YO_DIV, KH_YO_MOD,
    KH_YO_BAND, KH_YO_BOR, KH_YO_BXOR, KH_YO_SHL, KH_YO_SHR,
    KH_YO_LT, KH_YO_LE, KH_YO_GT, KH_YO_GE, KH_YO_EQ, KH_YO_NE,
    KH_YO_CONTAINS, KH_YO_ICONTAINS, KH_YO_STARTSWITH, KH_YO_ISTARTSWITH, KH_YO_ENDSWITH,
    KH_YO_IENDSWITH, KH_YO_IEQUALS, KH_YO_MATCHES,
    KH_YO_READ,          /* aux = KH_YR_* width/sign/endianness, a = offset expr */
    KH_YO_STR_FOUND,     /* a = string index, or UINT32_MAX for the loop's `$` */
    KH_YO_STR_AT,        /* a = string, b = offset expr */
    KH_YO_STR_IN,        /* a = string, b = range node */
    KH_YO_STR_COUNT,     /* a = string */
    KH_YO_STR_COUNT_IN,  /* a = string, b = range */
    KH_YO_STR_OFFSET,    /* a = string, b = index expr (1-based) */
    KH_YO_STR_LENGTH,    /* a = string, b = index expr */
    KH_YO_RANGE,         /* a = lo expr, b = hi expr */
    KH_YO_OF,            /* aux = quantifier kind, a = quantity expr, b = set node, c = range/at node or NONE */
    KH_YO_FOR_OF,        /* aux = quantifier, a = quantity, b = set node, c = body */
    KH_YO_FOR_IN,        /* aux = quantifier, a = quantity, b = iterable node, c = body; imm.i = first var slot | nvars << 16 */
    KH_YO_SET_STRINGS,   /* a = list offset into lists[], b = count (string indices) */
    KH_YO_SET_RULES,     /* a = list offset, b = count (rule indices) */
    KH_YO_ENUM,          /* a = list offset (expr nodes), b = count */
    KH_YO_RULE,          /* a = rule index */
    KH_YO_MODULE,        /* a = module index: the module's root object */
    KH_YO_FIELD,         /* a = object expr, b = member index */
    KH_YO_INDEX,         /* a = array expr, b = index expr */
    KH_YO_KEY,           /* a = dict expr, b = key expr */
    KH_YO_CALL,          /* a = object expr (module/struct), b = function id, c = args list offset; aux = nargs */
};

enum kh_yquant { KH_YQ_ALL = 1, KH_YQ_ANY, KH_YQ_NONE, KH_YQ_NUM, KH_YQ_PERCENT };

/* int8(x) ... uint32be(x): bits 0-1 size (1,2,4 bytes as 0,1,2), bit 2 unsigned, bit 3 big endian */
#define KH_YR_SIZE(a) (1u << ((a) & 3u))
#define KH_YR_UNSIGNED 4u
#define KH_YR_BE 8u

typedef struct kh_yexpr {
    uint8_t op;
    uint8_t type; /* kh_ytype of the value */
    uint16_t aux;
    uint32_t a, b, c;
    union {
        int64_t i;
        double f;
    } imm;
} kh_yexpr;

/* ---- Strings and rules ------------------------------------------------------- */
enum kh_ysflag {
    KH_YS_ASCII = 1u << 0,
    KH_YS_WIDE = 1u << 1,
    KH_YS_NOCASE = 1u << 2,
    KH_YS_FULLWORD = 1u << 3,
    KH_YS_PRIVATE = 1u << 4,
    KH_YS_XOR = 1u << 5,
    KH_YS_BASE64 = 1u << 6,
    KH_YS_BASE64WIDE = 1u << 7,
    KH_YS_HEX = 1u << 8,
    KH_YS_REGEX = 1u << 9,
    KH_YS_TEXT = 1u << 10,
    KH_YS_GREEDY = 1u << 11,   /* regex with greedy quantifiers: longest match per offset */
    KH_YS_REFERENCED = 1u << 12,
    KH_YS_DOTALL = 1u << 13,
    KH_YS_ICASE_RE = 1u << 14,
};

typedef struct kh_ystr {
    uint32_t name;  /* strs offset, e.g. "$a" */
    uint32_t rule;
    uint32_t pat;   /* pattern index in kh_rules.pats */
    uint32_t flags; /* KH_YS_* */
    uint32_t line;
    uint8_t xmin, xmax;
    uint8_t fixed;  /* 1: only used as `$a at <constant>`: yara searches there only */
    uint8_t mode;   /* KH_YSM_*: how the matcher finds it (atoms.c) */
    int64_t fixed_offset;
    uint32_t atom, natoms; /* its literals in the atom table */
} kh_ystr;

enum kh_ystr_mode {
    KH_YSM_EXACT = 0,  /* every alternative is a literal the matcher reports exactly */
    KH_YSM_ATOMS,      /* the matcher reports atoms; matches are confirmed around them */
    KH_YSM_UNFILTERED, /* no atom: confirmed by a scan of its own */
    KH_YSM_FIXED,      /* only `$a at N`: tried at N */
};

/* One literal the matcher searches for on behalf of a YARA string. */
typedef struct kh_yatom {
    uint32_t str;          /* kh_ystr index */
    uint32_t off, len;     /* the literal, in bytes[] */
    uint32_t pmin, pmax;   /* KH_YA_ATOM: distance from the match start to the atom; pmax may be KH_INF */
    uint16_t variant;      /* alternative of the tree of the string */
    uint8_t kind;          /* KH_YA_* */
    uint8_t flags;         /* KH_YAF_* */
    uint8_t before, after; /* KH_YA_EXACT: fullword checks (KH_AS_*) or 0 */
    uint8_t pad[2];
    uint32_t twin;         /* next atom with the same literal + 1 (searched once, reported to each), 0: none */
} kh_yatom;

enum { KH_YA_EXACT = 1, KH_YA_ATOM = 2 };
#define KH_YAF_CASELESS 1u
#define KH_YAF_MASKED 2u /* KH_YA_ATOM: len mask bytes follow the atom's bytes */

enum kh_yrflag {
    KH_YRF_PRIVATE = 1u << 0,
    KH_YRF_GLOBAL = 1u << 1,
    KH_YRF_NEEDS_STRING = 1u << 2, /* false unless one of its strings occurs */
};

typedef struct kh_yrule {
    uint32_t name, ns;       /* strs offsets */
    uint32_t tags, ntags;    /* lists[] offset of strs offsets */
    uint32_t meta, nmeta;    /* kh_ymeta index range */
    uint32_t str, nstr;      /* kh_ystr index range */
    uint32_t cond;           /* expression node */
    uint32_t flags;          /* KH_YRF_* */
    uint32_t modules;        /* bit mask of modules the condition uses */
    uint32_t file, line;     /* strs offset of the file; line of `rule` */
} kh_yrule;

enum kh_ymtype { KH_YM_STR = 1, KH_YM_INT, KH_YM_BOOL };

typedef struct kh_ymeta {
    uint32_t key;
    uint32_t type;
    int64_t ival; /* int/bool; for strings: bytes offset << 32 | length */
} kh_ymeta;

/* A regular expression used in a condition (`matches`). */
typedef struct kh_yregex {
    uint32_t pat; /* pattern index (tree), confirmed with the confirm matcher */
    uint32_t flags;
} kh_yregex;

/* External variables (-d name=value): declared before compiling. */
typedef struct kh_yext {
    uint32_t name; /* strs offset */
    uint32_t type; /* KH_YT_INT, FLOAT, STR, BOOL */
    int64_t i;
    double f;
    uint32_t soff, slen; /* bytes offset / length for strings */
} kh_yext;

#endif
