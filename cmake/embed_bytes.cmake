# Khiên — shared by the embedding scripts (embed_policies.cmake, embed_web.cmake),
# which run in script mode (cmake -P) and turn files into C arrays.

# kh_embed_hex(FILE HEXVAR LENVAR): FILE's bytes as a C initialiser list
# ("0x..," sixteen to a line) and its length in bytes.
function(kh_embed_hex file hexvar lenvar)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" hex "${hex}")
  set(${hexvar} "${hex}" PARENT_SCOPE)
  set(${lenvar} ${len} PARENT_SCOPE)
endfunction()

# kh_write_if_changed(OUT TEXT): writes OUT only when its content differs,
# so that an unchanged generated source does not rebuild anything.
function(kh_write_if_changed out text)
  if(EXISTS "${out}")
    file(READ "${out}" old)
    if(old STREQUAL text)
      return()
    endif()
  endif()
  file(WRITE "${out}" "${text}")
endfunction()
