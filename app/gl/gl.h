// QKV Lab app — the one include for OpenGL: the glad loader generated at build time (GL 3.3 core).
#pragma once

#include <glad/gl.h>
