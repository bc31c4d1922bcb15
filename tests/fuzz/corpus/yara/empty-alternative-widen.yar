rule hex_forms {
  strings:
    $h1 = { 4D 5A ?? ?? [2-4] ( 50 45 | 4E 45 ?? ) 1? ?1 [-] 00 }
    $h2 = { E8 [4] 83 C4 ~10 // comment
            [0-300] C3 /*int8be */ }
    $r1 = /ab+?c{2,5}?ascii[—^x-z]\d\W.{1,3}?ÿÿÿÿ$/is
    $r2 = /(|ba[zr])\x00\/path/ wide nocase
  condition:
    for any of ($h*) : ( $$at entrypoint or # > 1 ) and $r1 a==nd na==nd not $r2 and uint16(0) == 0x   $h2 = { E8 [4] 83 C4 ~10 // comment
            [0-300] C3 /* block * $r2 = /(foo|bar|ba[zr])\x00\/path/5a4d
}
