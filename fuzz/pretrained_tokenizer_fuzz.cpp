// A model folder's tokenizer files, as downloaded (vocab.json, merges.txt, tokenizer.json, tokenizer_config.json,
// vocab.txt), and any text to encode. The input is sections separated by "\n#--#\n":
//   flags \n#--# name \n#--# content \n#--# name \n#--# content … \n#--# text
// flags' first byte: bit 0 the family hint is WordPiece, bit 1 lowercase, bit 2 max_positions = 8. A name that is none
// of the five file names picks one by its first byte. Promises: a tokenizer or an Error that says what is wrong; every
// id in [0, size()); byte-level BPE gives back the text's bytes, whatever they are (decode(encode(text)) == text); the
// model's input is no longer than max_positions, and a BERT one is [CLS] … [SEP]; describe() keeps the id.
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/pretrained_tokenizer.h"
#include "fuzz/fuzz.h"

namespace {

void check_ids(const qkv::PretrainedTokenizer& t, const std::vector<int>& ids) {
  for (const int id : ids)
    if (id < 0 || id >= t.size()) qkv::fuzz::violated("every id is in [0, size()): " + std::to_string(id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  const std::vector<std::string_view> sections = fuzz::sections_of(fuzz::text_of(data, size));
  TokenizerHints hints;
  const unsigned flags = sections[0].empty() ? 0 : static_cast<unsigned char>(sections[0][0]);
  hints.family = (flags & 1) != 0 ? TokenizerFamily::WordPiece : TokenizerFamily::ByteLevelBPE;
  hints.lowercase = (flags & 2) != 0;
  hints.max_positions = (flags & 4) != 0 ? 8 : 0;
  // An even count of sections ends with the text; an odd one has none.
  const bool has_text = sections.size() % 2 == 0;
  const size_t files_end = has_text ? sections.size() - 1 : sections.size();
  std::map<std::string, std::string> files;
  for (size_t i = 1; i + 1 < files_end; i += 2)
    files[fuzz::tokenizer_file_name(sections[i])] = std::string(sections[i + 1]);
  const std::string_view text = has_text ? sections.back() : std::string_view{};

  auto loaded = PretrainedTokenizer::from_files(files, hints);
  if (fuzz::refused(loaded)) return 0;
  const PretrainedTokenizer& t = **loaded;
  if (t.size() <= 0) fuzz::violated("a tokenizer has a vocabulary");

  const std::vector<int> ids = t.encode(text);
  check_ids(t, ids);
  if (t.family() == TokenizerFamily::ByteLevelBPE && t.decode(ids) != text)
    fuzz::violated("byte-level BPE decodes to the bytes it encoded");
  for (const int id : ids) {
    const TokenPiece p = t.describe(id);
    if (p.id != id || p.raw != t.piece(id)) fuzz::violated("describe(id) is that id's piece");
    if (t.id(p.raw) != id) fuzz::violated("id(piece(id)) == id");
  }
  const std::vector<int> model = t.encode_for_model(text);
  check_ids(t, model);
  if (hints.max_positions > 0 && model.size() > static_cast<size_t>(hints.max_positions))
    fuzz::violated("the model's input is at most max_positions ids");
  if (t.family() == TokenizerFamily::WordPiece && t.cls_id >= 0 && t.sep_id >= 0 &&
      (model.size() < 2 || model.front() != t.cls_id || model.back() != t.sep_id))
    fuzz::violated("BERT's input is [CLS] … [SEP]");
  (void)t.decode(model);
  return 0;
}
