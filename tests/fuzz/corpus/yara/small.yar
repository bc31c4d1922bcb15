rule a { strings: $a = "ab" condition: $a and for any i in (1..#a): (@a[i] + !a[i] > 0) }
