rule hex_forms {
  strings:
    $h1 = { 4D 5A ?? ?? [2-4] ( 50 45 | 4E 45 ?? ) 0? ?1 [-] 00 }
    $h2 = { E8 [4] 83 C4 ~10 // comment
            [0-300] C3 /* block */ }
    $r1 = /ab+?c{2,5}?[^x-z]\d\W.{1,3}?$/is
    $r2 = /(foo|bar|ba[zr])\x00\/path/ wide nocase
  condition:
    for any of ($h*) : ( $ at entrypoint or # > 1 ) and $r1 and not $r2 and uint16(0) == 0x5a4d
}
