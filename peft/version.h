// peft.cpp's version, written into adapter files (`peft_version`-style provenance).
#pragma once

namespace peft {
const char* version();
}
