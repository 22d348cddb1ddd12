// QKV Lab app — small shared selectors: the attention block and the head.
#pragma once

#include "app/app_state.h"

namespace qkv::app {

// "encoder · layer 0 · self-attention" combo over every attention block of the model.
void BlockSelector(AppState&);
// Head slider 0…h−1.
void HeadSelector(AppState&);
std::string block_title(const BlockRef&);
// Their full widths (field and label), for same_line_if_fits before them.
float BlockSelectorWidth();
float HeadSelectorWidth();

}  // namespace qkv::app
