/* Khiên — engine/yara: tokens of the YARA rule language. */
#ifndef KH_ENGINE_YARA_LEXER_H
#define KH_ENGINE_YARA_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum kh_ytok {
    KH_T_EOF = 0,
    KH_T_ERROR,
    KH_T_IDENT,     /* identifier */
    KH_T_STRID,     /* $name, $name*, $ */
    KH_T_STRCOUNT,  /* #name, # */
    KH_T_STROFF,    /* @name, @ */
    KH_T_STRLEN,    /* !name, ! */
    KH_T_INT,       /* integer (KB/MB applied) */
    KH_T_FLOAT,
    KH_T_TEXT,      /* "..." with escapes decoded into text */
    KH_T_REGEX,     /* /.../ raw body in text, flags in ival (1 = i, 2 = s) */
    KH_T_HEX,       /* { ... } raw body in text */
    /* punctuation */
    KH_T_LPAREN, KH_T_RPAREN, KH_T_LBRACK, KH_T_RBRACK, KH_T_LBRACE, KH_T_RBRACE,
    KH_T_COMMA, KH_T_COLON, KH_T_ASSIGN, KH_T_DOTDOT, KH_T_DOT,
    KH_T_PLUS, KH_T_MINUS, KH_T_STAR, KH_T_BACKSLASH, KH_T_PERCENT,
    KH_T_AMP, KH_T_PIPE, KH_T_CARET, KH_T_TILDE, KH_T_SHL, KH_T_SHR,
    KH_T_LT, KH_T_LE, KH_T_GT, KH_T_GE, KH_T_EQ, KH_T_NE,
    /* keywords */
    KH_T_ALL, KH_T_AND, KH_T_ANY, KH_T_ASCII, KH_T_AT, KH_T_BASE64, KH_T_BASE64WIDE, KH_T_CONDITION,
    KH_T_CONTAINS, KH_T_DEFINED, KH_T_ENDSWITH, KH_T_ENTRYPOINT, KH_T_FALSE, KH_T_FILESIZE, KH_T_FOR,
    KH_T_FULLWORD, KH_T_GLOBAL, KH_T_ICONTAINS, KH_T_IENDSWITH, KH_T_IEQUALS, KH_T_IMPORT, KH_T_IN,
    KH_T_INCLUDE, KH_T_ISTARTSWITH, KH_T_MATCHES, KH_T_META, KH_T_NOCASE, KH_T_NONE, KH_T_NOT, KH_T_OF,
    KH_T_OR, KH_T_PRIVATE, KH_T_RULE, KH_T_STARTSWITH, KH_T_STRINGS, KH_T_THEM, KH_T_TRUE, KH_T_WIDE,
    KH_T_XOR,
    KH_T_INT8, KH_T_INT16, KH_T_INT32, KH_T_INT8BE, KH_T_INT16BE, KH_T_INT32BE, KH_T_UINT8, KH_T_UINT16,
    KH_T_UINT32, KH_T_UINT8BE, KH_T_UINT16BE, KH_T_UINT32BE,
};

typedef struct kh_ylex {
    const char *src;
    size_t len, pos;
    unsigned line, col;   /* of pos */
    /* current token */
    int tok;
    unsigned tline, tcol; /* where it starts */
    size_t tstart;
    kh_buf text;          /* identifier / string / regex / hex body */
    int64_t ival;
    double fval;
    const char *err;      /* KH_T_ERROR message */
    unsigned eline, ecol;
} kh_ylex;

void kh_ylex_init(kh_ylex *lx, const char *src, size_t len);
void kh_ylex_dispose(kh_ylex *lx);
/* Reads the next token into lx. */
int kh_ylex_next(kh_ylex *lx);
/* Same, but a '{' starts a hex string (the value of a string definition). */
int kh_ylex_next_value(kh_ylex *lx);
/* Human name of a token kind ("identifier", "'('", "end of file"). */
const char *kh_ylex_name(int tok);

#endif
