include "missing.yar"
rule r { condition: true }
