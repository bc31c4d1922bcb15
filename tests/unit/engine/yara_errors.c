/* Tests of the YARA compiler's diagnostics (src/engine/yara/parser.c,
 * atoms.c, strings.c, regex.c): rule text -> the error or warning expected,
 * with its line and column.
 *
 * Each case was run through Debian's `yara` 4.2.3 (`yara r.yar FILE`); its
 * message is quoted in the comment above the case. yara gives a line but no
 * column (and line 0 for errors at the end of the file); the columns here
 * point at the token the message is about (the string identifier for
 * warnings and unreferenced strings, the operator for type errors, the
 * offending character inside a hex string or regex). The expected text is
 * yara's message where Khiên prints it (or a part of it), else the start of
 * Khiên's more precise message. Cases yara accepts without a word expect no
 * diagnostic at all. The "may slow down scanning" warnings follow yara's atom
 * quality rules (same strings warned on all four rule sets of ../shared/rules).
 *
 * Known, deliberate differences (docs/YARA.md): `~` in hex strings (yara 4.3
 * syntax) is accepted; a rule naming itself in its condition is an error
 * (yara 4.2.3 accepts it and reads it as false).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "khien/error.h"
#include "khien/rules.h"

enum { NONE = -1, ERR = KH_DIAG_ERROR, WARN = KH_DIAG_WARNING };

typedef struct ecase {
    const char *text;
    int sev;        /* NONE: no diagnostic expected */
    unsigned line, col;
    const char *msg; /* substring of the message */
} ecase;

static const ecase cases[] = {
    /* yara: error: rule "a" in r.yar(1): unreferenced string "$a" */
    {"rule a { strings: $a = \"abc\" condition: true }", ERR, 1, 19, "unreferenced string \"$a\""},
    /* yara: r.yar(2): error: duplicated identifier "a" */
    {"rule a { condition: true }\nrule a { condition: true }", ERR, 2, 6, "duplicated identifier \"a\""},
    /* yara: error: rule "a" in r.yar(1): undefined identifier "foo" */
    {"rule a { condition: foo }", ERR, 1, 21, "undefined identifier \"foo\""},
    /* yara: error: rule "a" in r.yar(1): duplicated string identifier "$a" */
    {"rule a { strings: $a = \"abc\" $a = \"def\" condition: all of them }", ERR, 1, 30, "duplicated string identifier \"$a\""},
    /* yara: error: rule "a" in r.yar(5): undefined string "$b" */
    {"rule a {\n strings:\n  $a = \"abc\"\n condition:\n  $b }", ERR, 5, 3, "undefined string \"$b\""},
    /* yara: error: rule "a" in r.yar(1): type mismatch */
    {"rule a { condition: \"abc\" + 1 }", ERR, 1, 27, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): division by zero */
    {"rule a { condition: 1 \\ 0 }", ERR, 1, 23, "division by zero"},
    /* yara: error: rule "a" in r.yar(1): division by zero */
    {"rule a { condition: 1 % 0 }", ERR, 1, 23, "division by zero"},
    /* yara: r.yar(1): error: unknown module "foo" */
    {"import \"foo\"\nrule a { condition: true }", ERR, 1, 8, "unknown module \"foo\""},
    /* yara: error: rule "a" in r.yar(1): invalid hex string "$a": uneven number of digits in hex string */
    {"rule a { strings: $a = { 4 } condition: $a }", ERR, 1, 26, "invalid hex string \"$a\": uneven number of digits in hex string"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = { 41 4G } condition: $a }", ERR, 1, 29, "invalid hex string \"$a\": syntax error"},
    /* yara: error: rule "a" in r.yar(1): invalid hex string "$a": invalid jump range */
    {"rule a { strings: $a = { 41 [5-2] 42 } condition: $a }", ERR, 1, 29, "invalid hex string \"$a\": invalid jump range"},
    /* yara: error: rule "a" in r.yar(1): invalid hex string "$a": syntax error */
    {"rule a { strings: $a = { [2] 41 } condition: $a }", ERR, 1, 26, "invalid hex string \"$a\": syntax error"},
    /* yara: error: rule "a" in r.yar(1): invalid regular expression "$a": syntax error */
    {"rule a { strings: $a = /abc( / condition: $a }", ERR, 1, 30, "invalid regular expression \"$a\""},
    /* yara: error: rule "a" in r.yar(1): invalid regular expression "$a": bad repeat interval */
    {"rule a { strings: $a = /a{3,1}/ condition: $a }", ERR, 1, 31, "invalid regular expression \"$a\": bad repeat interval"},
    /* yara: error: rule "a" in r.yar(1): empty string "$a" */
    {"rule a { strings: $a = \"\" condition: $a }", ERR, 1, 19, "empty string \"$a\""},
    /* yara: error: rule "a" in r.yar(1): invalid modifier combination: xor nocase */
    {"rule a { strings: $a = \"abc\" xor nocase condition: $a }", ERR, 1, 24, "invalid modifier combination: xor nocase"},
    /* yara: error: rule "a" in r.yar(1): invalid modifier combination: base64 nocase */
    {"rule a { strings: $a = \"abc\" base64 nocase condition: $a }", ERR, 1, 24, "invalid modifier combination: base64 nocase"},
    /* yara: error: rule "a" in r.yar(1): invalid modifier combination: base64 xor */
    {"rule a { strings: $a = \"abc\" base64 xor condition: $a }", ERR, 1, 24, "invalid modifier combination: base64 xor"},
    /* yara: error: rule "a" in r.yar(1): invalid modifier combination: base64 fullword */
    {"rule a { strings: $a = \"abc\" base64 fullword condition: $a }", ERR, 1, 24, "invalid modifier combination: base64 fullword"},
    /* yara: error: rule "a" in r.yar(1): duplicated modifier */
    {"rule a { strings: $a = \"abc\" nocase nocase condition: $a }", ERR, 1, 37, "duplicated modifier"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = { 41 42 } wide condition: $a }", ERR, 1, 34, "invalid modifier"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = /ab/ xor condition: $a }", ERR, 1, 29, "invalid modifier"},
    /* yara: error: rule "a" in r.yar(1): duplicated tag identifier "t" */
    {"rule a : t t { condition: true }", ERR, 1, 12, "duplicated tag identifier \"t\""},
    /* yara: error: rule "a" in r.yar(0): syntax error */
    {"rule a { condition: true", ERR, 1, 25, "syntax error"},
    /* yara: error: rule "a" in r.yar(1): undefined identifier "pe" */
    {"rule a { condition: pe.entry_point }", ERR, 1, 21, "undefined identifier \"pe\""},
    /* yara: error: rule "a" in r.yar(2): invalid field name "foo" */
    {"import \"pe\"\nrule a { condition: pe.foo }", ERR, 2, 24, "invalid field name \"foo\""},
    /* yara: error: rule "a" in r.yar(2): wrong arguments for function "exports" */
    {"import \"pe\"\nrule a { condition: pe.exports(1,2,3) }", ERR, 2, 31, "wrong arguments for function"},
    /* yara: error: rule "a" in r.yar(2): "number_of_sections" is not a function */
    {"import \"pe\"\nrule a { condition: pe.number_of_sections(\"x\") }", ERR, 2, 42, "is not a function"},
    /* yara: error: rule "a" in r.yar(2): wrong usage of identifier "sections" */
    {"import \"pe\"\nrule a { condition: pe.sections }", ERR, 2, 21, "wrong type"},
    /* yara: error: rule "a" in r.yar(2): array indexes must be of integer type */
    {"import \"pe\"\nrule a { condition: pe.sections[\"x\"].name == \"a\" }", ERR, 2, 32, "array indexes must be"},
    /* yara: error: rule "a" in r.yar(1): undefined string "$a" */
    {"rule a { condition: #a }", ERR, 1, 21, "undefined string \"$a\""},
    /* yara: error: rule "a" in r.yar(1): wrong use of anonymous string */
    {"rule a { strings: $a = \"abc\" condition: $ }", ERR, 1, 41, "wrong use of anonymous string"},
    /* yara: error: rule "a" in r.yar(1): invalid xor range */
    {"rule a { strings: $a = \"abc\" xor(300) condition: $a }", ERR, 1, 34, "invalid xor range"},
    /* yara: error: rule "a" in r.yar(1): xor lower bound exceeds upper bound */
    {"rule a { strings: $a = \"abc\" xor(5-2) condition: $a }", ERR, 1, 36, "invalid xor range"},
    /* yara: r.yar(1): error: can't open include file: nonexist.yar */
    {"include \"nonexist.yar\"\nrule a { condition: true }", ERR, 1, 9, "can't open include file: nonexist.yar"},
    /* yara: error: rule "a" in r.yar(1): wrong type "string" for at operator */
    {"rule a { strings: $a = \"abc\" condition: $a at \"x\" }", ERR, 1, 44, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: rule }", ERR, 1, 21, "syntax error"},
    /* yara: r.yar(1): error: syntax error */
    {"rule 1a { condition: true }", ERR, 1, 7, "invalid character"},
    /* yara: error: rule "a" in r.yar(1): wrong type "float" for % operator */
    {"rule a { condition: 1.5 % 2 }", ERR, 1, 25, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): undefined identifier "j" */
    {"rule a { condition: for any i in (1..3) : ( j ) }", ERR, 1, 45, "undefined identifier \"j\""},
    /* yara: error: rule "a" in r.yar(1): wrong type "string" for - operator */
    {"rule a { condition: -\"x\" }", ERR, 1, 21, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): wrong type "float" for ~ operator */
    {"rule a { condition: ~1.0 }", ERR, 1, 21, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): undefined string "$*" */
    {"rule a { condition: 101% of them }", ERR, 1, 21, "percentage must be between 1 and 100"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    /*  and: error: rule "a" in r.yar(1): percentage must be between 1 and 100 (inclusive) */
    {"rule a { strings: $a = \"x\" condition: 0% of them }", ERR, 1, 39, "percentage must be between 1 and 100"},
    /* yara: error: rule "a" in r.yar(1): type mismatch */
    {"rule a { strings: $a = \"abc\" condition: @a[1] == \"x\" }", ERR, 1, 47, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): wrong type "integer" for contains operator */
    {"rule a { condition: \"a\" contains 1 }", ERR, 1, 25, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): wrong type "integer" for matches operator */
    {"rule a { condition: 1 matches /a/ }", ERR, 1, 23, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): wrong type "string" for intXXXX or uintXXXX operator */
    {"rule a { condition: uint8(\"x\") == 1 }", ERR, 1, 27, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): undefined identifier "b" */
    {"rule a { condition: b }\nrule b { condition: true }", ERR, 1, 21, "undefined identifier \"b\""},
    /* yara: error: rule "a" in r.yar(1): wrong type for range's lower bound */
    {"rule a { strings: $a = \"abc\" condition: $a in (\"a\"..2) }", ERR, 1, 47, "wrong type for range"},
    /* yara: error: rule "a" in r.yar(1): undefined string "$b" */
    {"rule a { strings: $a = \"abc\" condition: for all of ($a) : ( $b ) }", ERR, 1, 61, "undefined string \"$b\""},
    /* yara: error: rule "a" in r.yar(1): undefined string "$b*" */
    {"rule a { strings: $a = \"abc\" condition: any of ($b*) }", ERR, 1, 49, "undefined string \"$b*\""},
    /* yara: error: rule "a" in r.yar(1): undefined identifier "b" */
    {"rule a { condition: any of (b*) }", ERR, 1, 29, "undefined identifier \"b"},
    /* yara: error: rule "b" in r.yar(2): undefined identifier "c" */
    {"rule a { condition: true }\nrule b { condition: any of (a, c) }", ERR, 2, 32, "undefined identifier \"c\""},
    /* yara: error: rule "a" in r.yar(1): iterator yields an integer on each iteration , but the loop expects 2 */
    {"rule a { condition: for any i, j in (1..3) : ( true ) }", ERR, 1, 37, "wrong number of loop variables"},
    /* yara: error: rule "a" in r.yar(1): duplicated loop identifier "i" */
    {"rule a { condition: for any i in (1..3) : ( for any i in (1..2) : ( true ) ) }", ERR, 1, 69, "duplicated loop"},
    /* yara: error: rule "a" in r.yar(1): illegal escape sequence */
    {"rule a { strings: $a = \"\\q\" condition: $a }", ERR, 1, 26, "illegal escape sequence"},
    /* yara: error: rule "a" in r.yar(1): illegal escape sequence */
    {"rule a { strings: $a = \"ab\\x4\" condition: $a }", ERR, 1, 28, "illegal escape sequence"},
    /* yara: error: rule "a" in r.yar(0): syntax error */
    {"rule a { strings: $a = \"abc condition: $a }", ERR, 1, 44, "unterminated string"},
    /* yara: error: rule "a" in r.yar(0): syntax error */
    {"rule a { strings: $a = /abc condition: $a }", ERR, 1, 44, "unterminated regular expression"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = { 41 42 condition: $a }", ERR, 1, 32, "invalid hex string \"$a\": syntax error"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { meta: x = condition: true }", ERR, 1, 20, "syntax error"},
    /* yara: (nothing) */
    {"rule a { meta: x = 1 x = 2 condition: true }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"global global rule a { condition: true }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): duplicated modifier */
    {"rule a { strings: $a = \"abc\" private private condition: $a }", ERR, 1, 38, "duplicated modifier"},
    /* yara: error: rule "a" in r.yar(1): integer overflow in "99999999999999999999" */
    {"rule a { condition: 99999999999999999999 }", ERR, 1, 41, "integer too large"},
    /* yara: r.yar(0): error: syntax error */
    {"rule a { condition: true } rule", ERR, 1, 32, "syntax error"},
    /* yara: error: rule "a" in r.yar(1): greedy and ungreedy quantifiers can't be mixed in a regular expression */
    {"rule a { strings: $a = /(a.*?b)(c.*d)/ condition: $a }", ERR, 1, 25, "greedy and ungreedy quantifiers can't be mixed in a regular expression"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"ab\\\"\" condition: $a }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): type mismatch */
    {"rule a { condition: 1 == \"a\" }", ERR, 1, 23, "wrong type"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: true and 1 == }", ERR, 1, 35, "syntax error"},
    /* yara: error: rule "a" in r.yar(2): wrong arguments for function "entropy" */
    {"import \"math\"\nrule a { condition: math.entropy() > 1 }", ERR, 2, 33, "wrong arguments for function"},
    /* yara: (nothing) */
    {"import \"pe\"\nimport \"pe\"\nrule a { condition: true }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"import \"pe\"\nrule pe { condition: true }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = \"abc\" condition: #a[1] }", ERR, 1, 43, "syntax error"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" condition: !a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" condition: $a and for any of them : ( # > 1 ) }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = \"abc\" condition: $* }", ERR, 1, 41, "syntax error"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: filesize[1] }", ERR, 1, 29, "syntax error"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: 0x }", ERR, 1, 23, "hexadecimal number"},
    /* yara: (nothing) */
    {"rule a { condition: 1MB + 1KB == 1049600 }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(0): syntax error */
    {"rule a { condition: / }", ERR, 1, 24, "unterminated regular expression"},
    /* yara: error: rule "a" in r.yar(1): duplicated modifier */
    {"rule a { strings: $a = \"abc\" wide wide condition: $a }", ERR, 1, 35, "duplicated modifier"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { strings: $a = { 41 ~?? } condition: $a }", ERR, 1, 32, "invalid hex string \"$a\": syntax error"},
    /* yara: error: rule "a" in r.yar(1): invalid hex string "$a": syntax error */
    {"rule a { strings: $a = { 41 ( 42 | ) } condition: $a }", ERR, 1, 36, "invalid hex string \"$a\": syntax error"},
    /* yara: error: rule "a" in r.yar(1): invalid hex string "$a": syntax error */
    {"rule a { strings: $a = { 41 [-] } condition: $a }", ERR, 1, 33, "invalid hex string \"$a\": syntax error"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { 41 [1-] 42 [-] 43 } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { 41 [0-300] 42 } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: error: rule "a" in r.yar(1): invalid regular expression "$a": repeat interval too large */
    {"rule a { strings: $a = /a{0,70000}/ condition: $a }", ERR, 1, 34, "invalid regular expression \"$a\": repeat interval too large"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" condition: $a in (10..2) }", NONE, 0, 0, NULL},
    /* yara: error: rule "b" in r.yar(3): wrong usage of identifier "pe" */
    {"import \"pe\"\nrule pe { condition: true }\nrule b { condition: pe }", ERR, 3, 21, "wrong type for boolean expression"},
    /* yara: r.yar(1): error: syntax error */
    {"rule filesize { condition: true }", ERR, 1, 6, "syntax error"},
    /* yara: warning: rule "a" in r.yar(1): using literal string "abc" in a boolean operation. */
    {"rule a { condition: \"abc\" }", WARN, 1, 21, "using literal string \"abc\" in a boolean operation."},
    /* yara: warning: rule "a" in r.yar(1): using literal string "abc" in a boolean operation. */
    {"rule a { condition: \"abc\" and true }", WARN, 1, 21, "using literal string \"abc\" in a boolean operation."},
    /* yara: warning: rule "a" in r.yar(1): using literal string "abc" in a boolean operation. */
    {"rule a { condition: not \"abc\" }", WARN, 1, 21, "using literal string \"abc\" in a boolean operation."},
    /* yara: warning: rule "a" in r.yar(1): $a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N */
    {"rule a { strings: $a = /a.*b/ condition: $a }", WARN, 1, 19, "$a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N"},
    /* yara: warning: rule "a" in r.yar(1): $a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N */
    {"rule a { strings: $a = /a.+b/ condition: $a }", WARN, 1, 19, "$a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N"},
    /* yara: warning: rule "a" in r.yar(1): $a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N */
    {"rule a { strings: $a = /a.{2,}b/ condition: $a }", WARN, 1, 19, "$a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a.{2,5}b/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a[^x]*b/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a\\x00*b/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): $a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N */
    {"rule a { strings: $a = /abcd.*?efgh/ condition: $a }", WARN, 1, 19, "$a contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abcd\" condition: for any i in (1..#a) : ( @a[i] > 0 ) }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): loop nesting limit exceeded */
    {"rule a { condition: for any i in (1..3) : ( for any j in (1..3) : ( for any k in (1..3) : ( for any l in (1..3) : ( for any m in (1..3) : ( true ) ) ) ) ) }", ERR, 1, 117, "loop nesting limit exceeded"},
    /* yara: error: rule "a" in r.yar(1): 'for <quantifier> of <string set>' loops can't be nested */
    {"rule a { strings: $a = \"abc\" condition: for any of ($a) : ( for any of ($a) : ( $ ) ) }", ERR, 1, 61, "'for <quantifier> of <string set>' loops can't be nested"},
    /* yara: error: rule "a" in r.yar(1): wrong type "float" for at operator */
    {"rule a { strings: $a = \"abc\" condition: $a at 1.5 }", ERR, 1, 44, "wrong type"},
    /* yara: (nothing) */
    {"rule a { condition: true }\nrule b { condition: 3 of (a) }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" $b = \"def\" condition: 3 of them }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" condition: @a[0] }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(0): syntax error */
    {"rule a { strings: $a = \"abc\" condition: $a and 1 / 0.0 > 0 }", ERR, 1, 61, "unterminated regular expression"},
    /* yara: error: rule "a" in r.yar(1): integer overflow in "9223372036854775807 + 1" */
    {"rule a { condition: 0x7fffffffffffffff + 1 > 0 }", ERR, 1, 40, "integer overflow in \"9223372036854775807 + 1\""},
    /* yara: error: rule "a" in r.yar(1): integer overflow in "0x8000000000000000" */
    {"rule a { condition: -0x8000000000000000 \\ -1 > 0 }", ERR, 1, 40, "integer too large"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" condition: #a == 1.5 }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: \"a\" == true }", ERR, 1, 25, "wrong type for comparison"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: 1 == true }", ERR, 1, 23, "wrong type for comparison"},
    /* yara: error: rule "a" in r.yar(1): syntax error */
    {"rule a { condition: 1.0 == true }", ERR, 1, 25, "wrong type for comparison"},
    /* yara: warning: rule "a" in r.yar(1): Using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead. */
    {"rule a { condition: entrypoint }", WARN, 1, 21, "Using deprecated \"entrypoint\" keyword. Use the \"entry_point\" function from PE module instead."},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abcde\" xor(1) condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { 00 00 00 00 00 00 00 00 } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 00 00 00 00 00 01 } condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"\\x00\\x00\\x00\\x00\\x00\" condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"    \" condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"\\xff\\xff\\xff\\xff\" condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"\\xcc\\xcc\\xcc\\xcc\" condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"ab\" wide condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"a\" wide condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"a\" wide ascii condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" base64 condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"ab\" base64 condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"a\" base64 condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = \"a\" base64wide condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 4? 41 42 } condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 41 ?? ?? 42 43 } condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 41 [2] 42 43 } condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 41 42 [2-4] 43 44 } condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = { 41 42 ( 43 | 44 45 ) } condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { ( 41 | 42 ) ( 43 | 44 ) } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { ( 41 42 | 43 ) 44 } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /[ab]c/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = /[ab]cd/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /[a-z]cd/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /\\d\\dab/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /ab/i condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = /(ab|cd)ef/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a(b|c)/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /ab?c/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /ab*c/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /a(bc)*d/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: (nothing) */
    {"rule a { strings: $a = /a(bc)+d/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /a(bc){2}d/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /^ab/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /\\bab\\b/ condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /abc/ wide condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = /ab/ nocase condition: $a }", NONE, 0, 0, NULL},
    /* yara: (nothing) */
    {"rule a { strings: $a = \"abc\" fullword condition: $a }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = /\\x00\\x00\\x00\\x00/ condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara: warning: rule "a" in r.yar(1): string "$a" may slow down scanning */
    {"rule a { strings: $a = { 41 4? ?? 42 } condition: $a }", WARN, 1, 19, "string \"$a\" may slow down scanning"},
    /* yara -d x=true: accepted; booleans external variables compare with integers */
    {"rule b { condition: x == 1 and x }", NONE, 0, 0, NULL},
    /* yara: r.yar(1): error: duplicated identifier "x" (with -d x=1) */
    {"rule x { condition: true }", ERR, 1, 6, "duplicated identifier \"x\""},
    /* yara: error: rule "a" in r.yar(1): greedy and ungreedy quantifiers can't be mixed in a regular expression */
    {"rule a { strings: $a = /ab{3}?c*/ condition: $a }", ERR, 1, 25, "greedy and ungreedy quantifiers can't be mixed"},
    /* yara: (nothing): a regex in a condition may mix them */
    {"rule a { condition: \"abc\" matches /a+?b*/ }", NONE, 0, 0, NULL},
    /* yara: error: rule "a" in r.yar(1): integer overflow in "9223372036854775807 * 2" */
    {"rule a { condition: 0x7fffffffffffffff * 2 > 0 }", ERR, 1, 40, "integer overflow in \"9223372036854775807 * 2\""},
    /* yara: error: rule "a" in r.yar(1): integer overflow in "-9223372036854775807 - 2" */
    {"rule a { condition: -0x7fffffffffffffff - 2 > 0 }", ERR, 1, 41, "integer overflow in \"-9223372036854775807 - 2\""},
    /* yara: error: rule "a" in r.yar(1): percentage must be between 1 and 100 (inclusive) */
    {"rule a { strings: $a = \"abc\" condition: 101% of them }", ERR, 1, 41, "percentage must be between 1 and 100"},
    /* yara: error: rule "a" in r.yar(1): percentage must be between 1 and 100 (inclusive) */
    {"rule a { strings: $a = \"abcd\" condition: 0% of them }", ERR, 1, 42, "percentage must be between 1 and 100"},
    /* yara: (nothing): four nested loops are the limit */
    {"rule a { condition: for any i in (1..3) : ( for any j in (1..3) : ( for any k in (1..3) : "
     "( for any l in (1..3) : ( true ) ) ) ) }", NONE, 0, 0, NULL},
    /* yara: warning: rule "a" in r.yar(3): string "$b" may slow down scanning (line and column of $b) */
    {"rule a {\n  strings:\n    $b = { 41 4? }\n  condition:\n    $b\n}", WARN, 3, 5, "string \"$b\" may slow down scanning"},
    /* yara: error: rule "a" in r.yar(2): invalid hex string "$a": uneven number of digits in hex string
     * (the digit on the second line of the hex string) */
    {"rule a { strings: $a = { 41 42 // x\n  43 4 } condition: $a }", ERR, 2, 6, "uneven number of digits"},
    /* yara: error: rule "a" in r.yar(4): unreferenced string "$c" */
    {"rule a {\n strings:\n  $a = \"abcd\"\n    $c = \"efgh\"\n condition:\n  $a\n}", ERR, 4, 5, "unreferenced string \"$c\""},
};

/* Compiles one text and checks its diagnostics against the case. */
static void check_case(size_t i, const ecase *e)
{
    kh_compiler *c = NULL;
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN;
    if (kh_compiler_create(&c, &o)) {
        KT_FAIL_("case %zu: cannot create a compiler", i);
        return;
    }
    kh_compiler_define(c, "x", strstr(e->text, "rule x") ? "1" : "true");
    kh_compiler_add_yara_text(c, NULL, "r.yar", e->text, strlen(e->text));
    kh_rules *r = NULL;
    int rc = kh_compiler_build(c, &r);
    size_t n = kh_compiler_diag_count(c);
    int found = 0, errors = 0;
    for (size_t k = 0; k < n; k++) {
        const kh_diag *d = kh_compiler_diag(c, k);
        if (d->severity == KH_DIAG_ERROR)
            errors++;
        if (e->sev != NONE && (int)d->severity == e->sev && d->line == e->line && d->column == e->col &&
            d->message && strstr(d->message, e->msg))
            found = 1;
    }
    if (e->sev == NONE) {
        if (rc || n) {
            const kh_diag *d = n ? kh_compiler_diag(c, 0) : NULL;
            KT_FAIL_("case %zu: expected no diagnostic, got rc %d, %u:%u %s\n    %s", i, rc, d ? d->line : 0,
                     d ? d->column : 0, d && d->message ? d->message : "", e->text);
        }
    } else if (!found) {
        KT_FAIL_("case %zu: expected %s %u:%u \"%s\"\n    %s", i, e->sev == ERR ? "error" : "warning", e->line,
                 e->col, e->msg, e->text);
        for (size_t k = 0; k < n; k++) {
            const kh_diag *d = kh_compiler_diag(c, k);
            fprintf(stderr, "      got %s %u:%u %s\n", d->severity == KH_DIAG_ERROR ? "error" : "warning", d->line,
                    d->column, d->message ? d->message : "");
        }
    } else if (e->sev == ERR && rc == 0) {
        KT_FAIL_("case %zu: an error was reported but the build succeeded", i);
    } else if (e->sev == WARN && (rc || errors)) {
        KT_FAIL_("case %zu: a warning only was expected, the build failed (rc %d)", i, rc);
    }
    kh_rules_destroy(r);
    kh_compiler_destroy(c);
}

KT_TEST(yara_diagnostics)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(i, &cases[i]);
}

/* The table must keep both kinds of expectation, so the test can fail both ways. */
KT_TEST(yara_table_has_both_kinds)
{
    size_t none = 0, some = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cases[i].sev == NONE ? none++ : some++;
    KT_CHECK(none >= 20);
    KT_CHECK(some >= 100);
}

KT_MAIN({KT_CASE(yara_diagnostics), KT_CASE(yara_table_has_both_kinds)})
