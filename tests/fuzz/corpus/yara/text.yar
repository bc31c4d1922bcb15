import "pe"
rule text_mods : tag1 tag2 {
  meta: author = "khien" level = -3 ok = true
  strings:
    $a = "needle" nocase wide ascii fullword
    $b = "x\x41\tq\"" xor(1-20) private
    $c = "abcdef" base64 base64wide
    $d = "ghijk" base64("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`")
  condition:
    2 of ($a, $b*) and #c in (0..filesize) < 3 or @d[1] == 0x10 and !a[1] > 2 and pe.number_of_sections > 1
}
