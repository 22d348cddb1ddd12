// A real checkpoint's folder as downloaded (core/pretrained.h): config.json, model.safetensors and the tokenizer files.
// The input is sections separated by "\n#--#\n":
//   config.json \n#--# model.safetensors \n#--# name \n#--# content \n#--# name \n#--# content … [\n#--# text]
// A name that is none of the tokenizer files picks one by its first byte; an odd section left at the end is a text.
// Promises: a model or an Error that says what is wrong. A model's parameter count is the counters' count for its
// config and the number of floats it converted; its vocabulary has a row of the embedding per id and the tokenizer's
// ids for any text fall in it; its config validates; the card agrees with the config.
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/counters.h"
#include "core/pretrained.h"
#include "fuzz/fuzz.h"


extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qkv;
  const std::vector<std::string_view> sections = fuzz::sections_of(fuzz::text_of(data, size));
  const std::string_view config = sections[0];
  const std::string_view weights = sections.size() > 1 ? sections[1] : std::string_view{};
  std::map<std::string, std::string> files;
  size_t i = 2;
  for (; i + 1 < sections.size(); i += 2) files[fuzz::tokenizer_file_name(sections[i])] = std::string(sections[i + 1]);
  const std::string_view text = i < sections.size() ? sections[i] : std::string_view{};

  auto loaded = pretrained_from_bytes(config, weights, files, "fuzz");
  if (fuzz::refused(loaded)) return 0;
  const PretrainedModel& m = **loaded;
  if (validate(m.config)) fuzz::violated("a loaded model's config validates");
  if (m.card.layers != m.config.layers || m.card.heads != m.config.heads || m.card.d_model != m.config.d_model)
    fuzz::violated("the model card shows the config");
  const int64_t counted = count_model(count_spec_for(m.config, m.card.vocab), 1).total_params;
  if (counted != m.card.parameters) fuzz::violated("the counters count the loaded parameters: " + std::to_string(counted));
  int64_t converted = 0;
  for (const TensorMap::Entry& e : m.weights->entries()) converted += e.value.size();
  if (converted != m.card.parameters) fuzz::violated("every counted parameter was converted: " + std::to_string(converted));
  if (m.card.file_parameters < m.card.parameters) fuzz::violated("the file holds at least the parameters used");
  if (m.vocab.size() != m.card.vocab || m.weights->at("embed.E").rows() != m.card.vocab)
    fuzz::violated("one embedding row per vocabulary id");
  for (const int id : m.tokenizer->encode_for_model(text))
    if (id < 0 || id >= m.vocab.size()) fuzz::violated("the tokenizer's ids are rows of the embedding");
  return 0;
}
