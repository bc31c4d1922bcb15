/* Khiên — engine/yara: the lexer of the YARA rule language.
 *
 * Turns rule text into tokens with their line and column (1-based, columns
 * counted in bytes, as yara does). Text strings have their escapes decoded
 * (\" \\ \t \n \r \xHH); regular expressions and hex strings are returned
 * raw, to be parsed by regex.c and the hex parser. A regex literal is
 * recognised where a '/' cannot be the division operator: YARA has no '/'
 * operator (division is '\'), so '/' always starts a regex. Comments are
 * // to end of line and C-style block comments. Numbers accept decimal,
 * 0x hex, 0o octal, floats, and the KB/MB suffixes.
 */
#include "engine/yara/lexer.h"

#include <math.h>
#include <stdlib.h>

static const struct kw {
    const char *s;
    int tok;
} kws[] = {
    {"all", KH_T_ALL}, {"and", KH_T_AND}, {"any", KH_T_ANY}, {"ascii", KH_T_ASCII}, {"at", KH_T_AT},
    {"base64", KH_T_BASE64}, {"base64wide", KH_T_BASE64WIDE}, {"condition", KH_T_CONDITION},
    {"contains", KH_T_CONTAINS}, {"defined", KH_T_DEFINED}, {"endswith", KH_T_ENDSWITH},
    {"entrypoint", KH_T_ENTRYPOINT}, {"false", KH_T_FALSE}, {"filesize", KH_T_FILESIZE}, {"for", KH_T_FOR},
    {"fullword", KH_T_FULLWORD}, {"global", KH_T_GLOBAL}, {"icontains", KH_T_ICONTAINS},
    {"iendswith", KH_T_IENDSWITH}, {"iequals", KH_T_IEQUALS}, {"import", KH_T_IMPORT}, {"in", KH_T_IN},
    {"include", KH_T_INCLUDE}, {"istartswith", KH_T_ISTARTSWITH}, {"matches", KH_T_MATCHES},
    {"meta", KH_T_META}, {"nocase", KH_T_NOCASE}, {"none", KH_T_NONE}, {"not", KH_T_NOT}, {"of", KH_T_OF},
    {"or", KH_T_OR}, {"private", KH_T_PRIVATE}, {"rule", KH_T_RULE}, {"startswith", KH_T_STARTSWITH},
    {"strings", KH_T_STRINGS}, {"them", KH_T_THEM}, {"true", KH_T_TRUE}, {"wide", KH_T_WIDE},
    {"xor", KH_T_XOR}, {"int8", KH_T_INT8}, {"int16", KH_T_INT16}, {"int32", KH_T_INT32},
    {"int8be", KH_T_INT8BE}, {"int16be", KH_T_INT16BE}, {"int32be", KH_T_INT32BE}, {"uint8", KH_T_UINT8},
    {"uint16", KH_T_UINT16}, {"uint32", KH_T_UINT32}, {"uint8be", KH_T_UINT8BE}, {"uint16be", KH_T_UINT16BE},
    {"uint32be", KH_T_UINT32BE},
};

void kh_ylex_init(kh_ylex *lx, const char *src, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    kh_buf_init(&lx->text, 1u << 20);
}

void kh_ylex_dispose(kh_ylex *lx) { kh_buf_dispose(&lx->text); }

static int peekc(const kh_ylex *lx, size_t k) { return lx->pos + k < lx->len ? (unsigned char)lx->src[lx->pos + k] : -1; }

static void adv(kh_ylex *lx)
{
    if (lx->pos >= lx->len)
        return;
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static int err(kh_ylex *lx, const char *msg)
{
    lx->tok = KH_T_ERROR;
    lx->err = msg;
    lx->eline = lx->line;
    lx->ecol = lx->col;
    return KH_T_ERROR;
}

static int is_id0(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_id(int c) { return is_id0(c) || (c >= '0' && c <= '9'); }

/* Skips blanks and comments; returns KH_T_ERROR for an unterminated comment. */
static int skip_space(kh_ylex *lx)
{
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            adv(lx);
        } else if (c == '/' && peekc(lx, 1) == '/') {
            while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
                adv(lx);
        } else if (c == '/' && peekc(lx, 1) == '*') {
            unsigned l = lx->line, co = lx->col;
            adv(lx);
            adv(lx);
            while (peekc(lx, 0) >= 0 && !(peekc(lx, 0) == '*' && peekc(lx, 1) == '/'))
                adv(lx);
            if (peekc(lx, 0) < 0) {
                lx->line = l, lx->col = co;
                return err(lx, "unterminated comment");
            }
            adv(lx);
            adv(lx);
        } else {
            return 0;
        }
    }
}

static int lex_number(kh_ylex *lx)
{
    size_t st = lx->pos;
    uint64_t v = 0;
    int c0 = peekc(lx, 0), c1 = peekc(lx, 1);
    if (c0 == '0' && (c1 == 'x' || c1 == 'X')) {
        adv(lx);
        adv(lx);
        int n = 0;
        while (kh_hexval(peekc(lx, 0)) >= 0) {
            if (v >> 60)
                return err(lx, "integer too large");
            v = v << 4 | (uint64_t)kh_hexval(peekc(lx, 0));
            adv(lx);
            n++;
        }
        if (!n)
            return err(lx, "hexadecimal number without digits");
    } else if (c0 == '0' && c1 == 'o') {
        adv(lx);
        adv(lx);
        int n = 0;
        while (peekc(lx, 0) >= '0' && peekc(lx, 0) <= '7') {
            if (v >> 61)
                return err(lx, "integer too large");
            v = v << 3 | (uint64_t)(peekc(lx, 0) - '0');
            adv(lx);
            n++;
        }
        if (!n)
            return err(lx, "octal number without digits");
    } else {
        while (peekc(lx, 0) >= '0' && peekc(lx, 0) <= '9') {
            adv(lx);
        }
        if (peekc(lx, 0) == '.' && peekc(lx, 1) >= '0' && peekc(lx, 1) <= '9') {
            adv(lx);
            while (peekc(lx, 0) >= '0' && peekc(lx, 0) <= '9')
                adv(lx);
            char tmp[64];
            size_t n = lx->pos - st;
            if (n >= sizeof(tmp))
                return err(lx, "number too long");
            memcpy(tmp, lx->src + st, n);
            tmp[n] = 0;
            lx->fval = strtod(tmp, NULL);
            return lx->tok = KH_T_FLOAT;
        }
        if (kh_parse_u64(lx->src + st, lx->pos - st, &v) || v > (uint64_t)INT64_MAX)
            return err(lx, "integer too large");
    }
    if (peekc(lx, 0) == 'K' && peekc(lx, 1) == 'B') {
        adv(lx), adv(lx);
        if (v > (uint64_t)INT64_MAX / 1024)
            return err(lx, "integer too large");
        v *= 1024;
    } else if (peekc(lx, 0) == 'M' && peekc(lx, 1) == 'B') {
        adv(lx), adv(lx);
        if (v > (uint64_t)INT64_MAX / (1024 * 1024))
            return err(lx, "integer too large");
        v *= 1024 * 1024;
    }
    if (v > (uint64_t)INT64_MAX)
        return err(lx, "integer too large");
    if (is_id(peekc(lx, 0)))
        return err(lx, "invalid character in number");
    lx->ival = (int64_t)v;
    return lx->tok = KH_T_INT;
}

static int lex_text(kh_ylex *lx)
{
    adv(lx); /* opening quote */
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0 || c == '\n')
            return err(lx, "unterminated string");
        if (c == '"') {
            adv(lx);
            return lx->tok = KH_T_TEXT;
        }
        if (c == '\\') {
            int e = peekc(lx, 1);
            char out;
            switch (e) {
            case '"': out = '"'; break;
            case '\\': out = '\\'; break;
            case 't': out = '\t'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 'x': {
                int h = kh_hexval(peekc(lx, 2)), l = kh_hexval(peekc(lx, 3));
                if (h < 0 || l < 0) {
                    adv(lx);
                    return err(lx, "illegal escape sequence");
                }
                out = (char)(h << 4 | l);
                adv(lx), adv(lx);
                break;
            }
            default:
                adv(lx);
                return err(lx, "illegal escape sequence");
            }
            adv(lx), adv(lx);
            if (kh_buf_putc(&lx->text, out))
                return err(lx, "string too long");
            continue;
        }
        if (kh_buf_putc(&lx->text, (char)c))
            return err(lx, "string too long");
        adv(lx);
    }
}

static int lex_regex(kh_ylex *lx)
{
    adv(lx); /* '/' */
    int in_class = 0;
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0 || c == '\n')
            return err(lx, "unterminated regular expression");
        if (c == '\\') {
            int e = peekc(lx, 1);
            if (e < 0 || e == '\n')
                return err(lx, "unterminated regular expression");
            /* "\/" is an escaped slash: keep only the slash. */
            if (e != '/' && kh_buf_putc(&lx->text, '\\'))
                return err(lx, "regular expression too long");
            if (kh_buf_putc(&lx->text, (char)e))
                return err(lx, "regular expression too long");
            adv(lx), adv(lx);
            continue;
        }
        if (c == '[')
            in_class = 1;
        else if (c == ']')
            in_class = 0;
        else if (c == '/' && !in_class)
            break;
        if (kh_buf_putc(&lx->text, (char)c))
            return err(lx, "regular expression too long");
        adv(lx);
    }
    adv(lx); /* closing '/' */
    lx->ival = 0;
    while (peekc(lx, 0) == 'i' || peekc(lx, 0) == 's') {
        lx->ival |= peekc(lx, 0) == 'i' ? 1 : 2;
        adv(lx);
    }
    return lx->tok = KH_T_REGEX;
}

static int lex_hex(kh_ylex *lx)
{
    adv(lx); /* '{' */
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0)
            return err(lx, "unterminated hex string");
        if (c == '}')
            break;
        if (c == '/' && peekc(lx, 1) == '/') {
            while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
                adv(lx);
            continue;
        }
        if (c == '/' && peekc(lx, 1) == '*') {
            adv(lx), adv(lx);
            while (peekc(lx, 0) >= 0 && !(peekc(lx, 0) == '*' && peekc(lx, 1) == '/'))
                adv(lx);
            if (peekc(lx, 0) < 0)
                return err(lx, "unterminated comment");
            adv(lx), adv(lx);
            continue;
        }
        if (kh_buf_putc(&lx->text, (char)c))
            return err(lx, "hex string too long");
        adv(lx);
    }
    adv(lx);
    return lx->tok = KH_T_HEX;
}

/* `hex_ok`: a '{' starts a hex string (after '=' in a strings section). */
static int next(kh_ylex *lx, int hex_ok)
{
    kh_buf_clear(&lx->text);
    lx->err = NULL;
    if (skip_space(lx))
        return KH_T_ERROR;
    lx->tline = lx->line;
    lx->tcol = lx->col;
    lx->tstart = lx->pos;
    int c = peekc(lx, 0);
    if (c < 0)
        return lx->tok = KH_T_EOF;
    if (is_id0(c)) {
        while (is_id(peekc(lx, 0))) {
            if (kh_buf_putc(&lx->text, (char)peekc(lx, 0)))
                return err(lx, "identifier too long");
            adv(lx);
        }
        if (lx->text.len > 128)
            return err(lx, "identifier too long");
        for (size_t i = 0; i < KH_ARRAY_LEN(kws); i++)
            if (strcmp(kws[i].s, lx->text.data) == 0)
                return lx->tok = kws[i].tok;
        return lx->tok = KH_T_IDENT;
    }
    if (c >= '0' && c <= '9')
        return lex_number(lx);
    if (c == '"')
        return lex_text(lx);
    if (c == '/')
        return lex_regex(lx);
    if (c == '{' && hex_ok)
        return lex_hex(lx);
    if (c == '$' || c == '#' || c == '@' || (c == '!' && peekc(lx, 1) != '=')) {
        int t = c == '$' ? KH_T_STRID : c == '#' ? KH_T_STRCOUNT : c == '@' ? KH_T_STROFF : KH_T_STRLEN;
        kh_buf_putc(&lx->text, (char)c);
        adv(lx);
        while (is_id(peekc(lx, 0))) {
            kh_buf_putc(&lx->text, (char)peekc(lx, 0));
            adv(lx);
        }
        if (t == KH_T_STRID && peekc(lx, 0) == '*') {
            kh_buf_putc(&lx->text, '*');
            adv(lx);
        }
        if (lx->text.len > 129)
            return err(lx, "identifier too long");
        return lx->tok = t;
    }
    adv(lx);
    int c1 = peekc(lx, 0);
#define TWO(ch, t2, t1)          \
    if (c1 == (ch)) {            \
        adv(lx);                 \
        return lx->tok = (t2);   \
    }                            \
    return lx->tok = (t1)
    switch (c) {
    case '(': return lx->tok = KH_T_LPAREN;
    case ')': return lx->tok = KH_T_RPAREN;
    case '[': return lx->tok = KH_T_LBRACK;
    case ']': return lx->tok = KH_T_RBRACK;
    case '{': return lx->tok = KH_T_LBRACE;
    case '}': return lx->tok = KH_T_RBRACE;
    case ',': return lx->tok = KH_T_COMMA;
    case ':': return lx->tok = KH_T_COLON;
    case '+': return lx->tok = KH_T_PLUS;
    case '-': return lx->tok = KH_T_MINUS;
    case '*': return lx->tok = KH_T_STAR;
    case '\\': return lx->tok = KH_T_BACKSLASH;
    case '%': return lx->tok = KH_T_PERCENT;
    case '&': return lx->tok = KH_T_AMP;
    case '|': return lx->tok = KH_T_PIPE;
    case '^': return lx->tok = KH_T_CARET;
    case '~': return lx->tok = KH_T_TILDE;
    case '.': TWO('.', KH_T_DOTDOT, KH_T_DOT);
    case '=': TWO('=', KH_T_EQ, KH_T_ASSIGN);
    case '!':
        if (c1 == '=') {
            adv(lx);
            return lx->tok = KH_T_NE;
        }
        break;
    case '<':
        if (c1 == '<') {
            adv(lx);
            return lx->tok = KH_T_SHL;
        }
        TWO('=', KH_T_LE, KH_T_LT);
    case '>':
        if (c1 == '>') {
            adv(lx);
            return lx->tok = KH_T_SHR;
        }
        TWO('=', KH_T_GE, KH_T_GT);
    }
#undef TWO
    lx->col--;
    lx->pos--;
    return err(lx, "unexpected character");
}

int kh_ylex_next(kh_ylex *lx) { return next(lx, 0); }
int kh_ylex_next_value(kh_ylex *lx) { return next(lx, 1); }

const char *kh_ylex_name(int tok)
{
    switch (tok) {
    case KH_T_EOF: return "end of file";
    case KH_T_ERROR: return "invalid token";
    case KH_T_IDENT: return "identifier";
    case KH_T_STRID: return "string identifier";
    case KH_T_STRCOUNT: return "string count";
    case KH_T_STROFF: return "string offset";
    case KH_T_STRLEN: return "string length";
    case KH_T_INT: return "integer";
    case KH_T_FLOAT: return "number";
    case KH_T_TEXT: return "text string";
    case KH_T_REGEX: return "regular expression";
    case KH_T_HEX: return "hex string";
    case KH_T_LPAREN: return "'('";
    case KH_T_RPAREN: return "')'";
    case KH_T_LBRACK: return "'['";
    case KH_T_RBRACK: return "']'";
    case KH_T_LBRACE: return "'{'";
    case KH_T_RBRACE: return "'}'";
    case KH_T_COMMA: return "','";
    case KH_T_COLON: return "':'";
    case KH_T_ASSIGN: return "'='";
    case KH_T_DOTDOT: return "'..'";
    case KH_T_DOT: return "'.'";
    }
    for (size_t i = 0; i < KH_ARRAY_LEN(kws); i++)
        if (kws[i].tok == tok)
            return kws[i].s;
    return "operator";
}
