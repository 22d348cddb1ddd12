# Writes OUTPUT, a header with each shader file as a string constant, so the app runs from any folder.
# cmake -DOUTPUT=<header> -DINPUTS="a.vert;b.frag" -P embed_shaders.cmake
set(content "// Generated from shaders/ by cmake/embed_shaders.cmake. Do not edit.\n#pragma once\n\n")
foreach(input IN LISTS INPUTS)
  file(READ "${input}" source)
  get_filename_component(name "${input}" NAME)
  string(MAKE_C_IDENTIFIER "${name}" ident)
  string(APPEND content "inline constexpr const char* kShader_${ident} = R\"glsl(${source})glsl\";\n\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "${content}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
