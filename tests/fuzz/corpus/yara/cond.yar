import "math"
import "hash"
import "pe"
private rule base { condition: filesize > 10KB }
global rule g { condition: true }
rule uses_all {
  condition:
    base and math.entropy(0, filesize) >= 7.5 and hash.md5(0, 100) == "abc" and
    for all i in (1..3) : ( int8(i) != -1 and uint32be(i * 4) & 0xff == i \ 2 ) and
    for any k, v in pe.version_info : ( k icontains "name" and v matches /Micro.*/ ) and
    filename endswith ".exe" and defined num and 1 << 3 | 5 ^ 2 % 7 == 15 and "a" iequals "A" and
    any of (base, g*) and none of (base)
}
