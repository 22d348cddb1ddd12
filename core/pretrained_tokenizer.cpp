// QKV Lab core — a model folder's tokenizer files: which family they are, and the vocabulary every family shares
// (dense ids 0…V−1, limits). The families' own rules and algorithms: core/bpe_tokenizer.cpp, core/wordpiece_tokenizer.cpp.
//
// [SECTION] index: helpers · vocabulary readers · tokenizer.json · load / from_files / id
#include "core/pretrained_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/files.h"
#include "core/i18n.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;
using json = nlohmann::json;
using namespace tokenizer_detail;

// The file names of a model folder (HF's layout).
// i18n: names begin
constexpr const char* kTokenizerJson = "tokenizer.json";
constexpr const char* kTokenizerConfig = "tokenizer_config.json";
constexpr const char* kVocabJson = "vocab.json";
constexpr const char* kMergesTxt = "merges.txt";
constexpr const char* kVocabTxt = "vocab.txt";
// i18n: names end

namespace tokenizer_detail {

int utf8_sequence_at(std::string_view text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(text[k])); };
  const uint32_t b = byte(i);
  if (b < 0x80) {
    if (code_point != nullptr) *code_point = b;
    return 1;
  }
  const int length = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
  if (length == 0 || i + static_cast<size_t>(length) > text.size()) return 0;
  uint32_t cp = b & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
  for (int k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  if (code_point != nullptr) *code_point = cp;
  return length;
}

SpecialTokens::SpecialTokens(std::vector<std::pair<std::string, int>> tokens) : tokens_(std::move(tokens)) {
  std::erase_if(tokens_, [](const auto& t) { return t.first.empty(); });
  std::stable_sort(tokens_.begin(), tokens_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (size_t i = 0; i < tokens_.size(); ++i)
    starting_with_[static_cast<unsigned char>(tokens_[i].first[0])].push_back(static_cast<int>(i));
}

SpecialTokens::Match SpecialTokens::find(std::string_view text, size_t from) const {
  if (tokens_.empty()) return {};
  for (size_t i = from; i < text.size(); ++i) {
    for (const int k : starting_with_[static_cast<unsigned char>(text[i])]) {
      const std::string& token = tokens_[static_cast<size_t>(k)].first;
      if (text.compare(i, token.size(), token) == 0) return {i, token.size(), tokens_[static_cast<size_t>(k)].second};
    }
  }
  return {};
}

std::string shown_piece(std::string_view piece) {
  constexpr size_t kShown = 48;  // bytes of a piece quoted in a message
  if (piece.size() <= kShown) return std::string(piece);
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return std::string(piece.substr(0, cut)) + "…";
}

}  // namespace tokenizer_detail

namespace {

// [SECTION] helpers

Error damaged(std::string what) { return Error{std::move(what), tr("core.tokenizer.hint_redownload")}; }

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<json> parse_json(const std::string& text, const char* file) {
  if (auto e = check_json_depth(text, file)) return *e;
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return damaged(trf("core.tokenizer.not_json", arg("file", file), arg("reason", e.what())));
  }
}

std::optional<Error> check_piece(std::string_view piece, const std::string& file) {
  if (piece.size() > kMaxVocabPieceBytes)
    return damaged(trf("core.tokenizer.piece_too_long", arg("file", file), arg("bytes", piece.size()), arg("max", kMaxVocabPieceBytes)));
  return std::nullopt;
}

// Lines of a text file without their "\n" (and a Windows "\r"); a final "\n" ends the last line, it does not start one.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// [SECTION] vocabulary readers

// The (id, piece) pairs of a vocabulary object ({"piece": id, …}) and the added tokens, as a dense id -> piece table:
// the ids must be exactly 0 … V−1, each once.
Result<std::vector<std::string>> dense_vocabulary(const json& vocab, const std::string& file, const std::vector<AddedToken>& added) {
  if (!vocab.is_object()) return damaged(trf("core.tokenizer.not_object", arg("file", file), arg("field", "model.vocab")));
  if (vocab.size() + added.size() > static_cast<size_t>(kMaxVocabEntries))
    return damaged(trf("core.tokenizer.too_many_entries", arg("file", file), arg("max", kMaxVocabEntries)));
  std::vector<std::pair<int64_t, std::string_view>> entries;
  entries.reserve(vocab.size() + added.size());
  for (const auto& [piece, value] : vocab.items()) {
    if (auto e = check_piece(piece, file)) return *e;
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= kMaxVocabEntries)
      return damaged(trf("core.tokenizer.bad_id", arg("file", file), arg("piece", shown_piece(piece)), arg("max", kMaxVocabEntries - 1)));
    entries.emplace_back(value.get<int64_t>(), piece);
  }
  for (const AddedToken& token : added) {
    const auto it = vocab.find(token.content);
    if (it != vocab.end()) {
      if (it->get<int64_t>() == token.id) continue;  // the vocabulary already has it, with the same id
      return damaged(trf("core.tokenizer.added_conflict", arg("file", file), arg("piece", shown_piece(token.content)),
                         arg("id", token.id), arg("other", it->get<int64_t>())));
    }
    entries.emplace_back(token.id, token.content);
  }
  const size_t size = entries.size();
  std::vector<const std::string_view*> slots(size, nullptr);
  for (const auto& [id, piece] : entries) {
    if (static_cast<size_t>(id) >= size) continue;  // some id below `size` is then missing: found below
    if (slots[static_cast<size_t>(id)] != nullptr)
      return damaged(trf("core.tokenizer.duplicate_id", arg("file", file), arg("piece", shown_piece(piece)),
                         arg("other", shown_piece(*slots[static_cast<size_t>(id)])), arg("id", id)));
    slots[static_cast<size_t>(id)] = &piece;
  }
  std::vector<std::string> pieces(size);
  for (size_t id = 0; id < size; ++id) {
    if (slots[id] == nullptr)
      return damaged(trf("core.tokenizer.missing_id", arg("file", file), arg("id", id), arg("last", size - 1)));
    pieces[id] = std::string(*slots[id]);
  }
  return pieces;
}

// vocab.txt: one piece a line, the id is the line's index. Every line is a different piece.
Result<std::vector<std::string>> vocabulary_from_lines(std::string_view text, const std::string& file) {
  const std::vector<std::string_view> lines = lines_of(text);
  if (lines.size() > static_cast<size_t>(kMaxVocabEntries))
    return damaged(trf("core.tokenizer.too_many_entries", arg("file", file), arg("max", kMaxVocabEntries)));
  std::unordered_map<std::string_view, size_t> first_line;
  std::vector<std::string> pieces;
  pieces.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (auto e = check_piece(lines[i], file)) return *e;
    const auto [it, fresh] = first_line.emplace(lines[i], i);
    if (!fresh)
      return damaged(trf("core.tokenizer.duplicate_line", arg("file", file), arg("line", i + 1), arg("first", it->second + 1),
                         arg("piece", shown_piece(lines[i]))));
    pieces.emplace_back(lines[i]);
  }
  return pieces;
}

// One merge rule written "left right" (merges.txt's lines, tokenizer.json's older spelling): one space, two pieces.
std::optional<MergeRule> merge_from_text(std::string_view text, int line) {
  const size_t space = text.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == text.size() || text.find(' ', space + 1) != std::string_view::npos)
    return std::nullopt;
  return MergeRule{std::string(text.substr(0, space)), std::string(text.substr(space + 1)), line};
}

Result<std::vector<MergeRule>> merges_from_lines(std::string_view text, const std::string& file) {
  std::vector<MergeRule> merges;
  const std::vector<std::string_view> lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty() || (i == 0 && line.starts_with("#version"))) continue;  // i18n: name
    if (merges.size() == static_cast<size_t>(kMaxMerges))
      return damaged(trf("core.tokenizer.too_many_merges", arg("file", file), arg("max", kMaxMerges)));
    std::optional<MergeRule> rule = merge_from_text(line, static_cast<int>(i + 1));
    if (!rule) return damaged(trf("core.tokenizer.bad_merge", arg("file", file), arg("line", i + 1)));
    merges.push_back(std::move(*rule));
  }
  return merges;
}

// [SECTION] tokenizer.json

// model.merges: ["a b", …] (tokenizers before 0.20) or [["a", "b"], …].
Result<std::vector<MergeRule>> merges_from_json(const json& model) {
  const json* list = member(model, "merges");
  if (list == nullptr) return std::vector<MergeRule>{};
  if (!list->is_array()) return damaged(trf("core.tokenizer.not_array", arg("file", kTokenizerJson), arg("field", "model.merges")));
  if (list->size() > static_cast<size_t>(kMaxMerges))
    return damaged(trf("core.tokenizer.too_many_merges", arg("file", kTokenizerJson), arg("max", kMaxMerges)));
  std::vector<MergeRule> merges;
  merges.reserve(list->size());
  int index = 0;
  for (const json& item : *list) {
    ++index;
    std::optional<MergeRule> rule;
    if (item.is_string()) {
      rule = merge_from_text(item.get_ref<const std::string&>(), index);
    } else if (item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_string() &&
               !item[0].get_ref<const std::string&>().empty() && !item[1].get_ref<const std::string&>().empty()) {
      rule = MergeRule{item[0].get<std::string>(), item[1].get<std::string>(), index};
    }
    if (!rule) return damaged(trf("core.tokenizer.bad_merge_entry", arg("file", kTokenizerJson), arg("line", index)));
    merges.push_back(std::move(*rule));
  }
  return merges;
}

Result<std::vector<AddedToken>> added_from_json(const json& root) {
  std::vector<AddedToken> added;
  const json* list = member(root, "added_tokens");
  if (list == nullptr || list->is_null()) return added;
  if (!list->is_array()) return damaged(trf("core.tokenizer.not_array", arg("file", kTokenizerJson), arg("field", "added_tokens")));
  if (list->size() > static_cast<size_t>(kMaxVocabEntries))
    return damaged(trf("core.tokenizer.too_many_entries", arg("file", kTokenizerJson), arg("max", kMaxVocabEntries)));
  std::unordered_map<std::string_view, int> id_of;  // content -> id: the same token twice is one token
  int index = 0;
  for (const json& item : *list) {
    ++index;
    const json* id = member(item, "id");
    const json* content = member(item, "content");
    const json* special = member(item, "special");
    if (id == nullptr || content == nullptr || !id->is_number_integer() || !content->is_string() || content->get_ref<const std::string&>().empty() ||
        id->get<int64_t>() < 0 || id->get<int64_t>() >= kMaxVocabEntries)
      return damaged(trf("core.tokenizer.bad_added_token", arg("file", kTokenizerJson), arg("n", index)));
    const std::string& piece = content->get_ref<const std::string&>();
    if (auto e = check_piece(piece, kTokenizerJson)) return *e;
    const auto [it, fresh] = id_of.emplace(piece, id->get<int>());
    if (!fresh && it->second != id->get<int>())
      return damaged(trf("core.tokenizer.added_conflict", arg("file", kTokenizerJson), arg("piece", shown_piece(piece)),
                         arg("id", id->get<int>()), arg("other", it->second)));
    if (fresh) added.push_back({id->get<int>(), piece, special != nullptr && special->is_boolean() && special->get<bool>()});
  }
  return added;
}

std::optional<Error> read_bool(const json& object, const char* key, const char* file, std::optional<bool>& out, bool null_is_unset) {
  const json* value = member(object, key);
  if (value == nullptr || (value->is_null() && null_is_unset)) return std::nullopt;
  if (!value->is_boolean()) return damaged(trf("core.tokenizer.not_bool", arg("file", file), arg("field", key)));
  out = value->get<bool>();
  return std::nullopt;
}

// The normalizer of a BERT tokenizer.json: {"type": "BertNormalizer", "lowercase": …, "strip_accents": null|bool, …}.
std::optional<Error> bert_normalizer(const json& root, TokenizerSource& source) {
  const json* normalizer = member(root, "normalizer");
  const json* type = normalizer == nullptr ? nullptr : member(*normalizer, "type");
  if (type == nullptr || !type->is_string() || *type != "BertNormalizer") return std::nullopt;
  source.lowercase = true;  // the normalizer's default
  for (auto [key, out] : {std::pair{"lowercase", &source.lowercase}, std::pair{"strip_accents", &source.strip_accents},
                          std::pair{"handle_chinese_chars", &source.handle_chinese_chars}, std::pair{"clean_text", &source.clean_text}})
    if (auto e = read_bool(*normalizer, key, kTokenizerJson, *out, true)) return e;
  return std::nullopt;
}

// tokenizer_config.json (transformers' BertTokenizer arguments): do_lower_case, strip_accents.
std::optional<Error> bert_config(const std::map<std::string, std::string>& files, TokenizerSource& source) {
  const auto it = files.find(kTokenizerConfig);
  if (it == files.end() || source.lowercase) return std::nullopt;  // tokenizer.json's normalizer said it
  Result<json> config = parse_json(it->second, kTokenizerConfig);
  if (!config) return config.error();
  if (!config->is_object()) return damaged(trf("core.tokenizer.root_not_object", arg("file", kTokenizerConfig)));
  if (auto e = read_bool(*config, "do_lower_case", kTokenizerConfig, source.lowercase, true)) return e;
  return read_bool(*config, "strip_accents", kTokenizerConfig, source.strip_accents, true);
}

Result<TokenizerSource> source_from_tokenizer_json(const json& root, const json& model) {
  TokenizerSource source;
  source.vocab_file = source.merges_file = kTokenizerJson;
  Result<std::vector<AddedToken>> added = added_from_json(root);
  if (!added) return added.error();
  source.added = std::move(*added);
  const json* vocab = member(model, "vocab");
  if (vocab == nullptr) return damaged(trf("core.tokenizer.not_object", arg("file", kTokenizerJson), arg("field", "model.vocab")));
  Result<std::vector<std::string>> pieces = dense_vocabulary(*vocab, kTokenizerJson, source.added);
  if (!pieces) return pieces.error();
  source.pieces = std::move(*pieces);
  Result<std::vector<MergeRule>> merges = merges_from_json(model);
  if (!merges) return merges.error();
  source.merges = std::move(*merges);
  for (auto [key, out] : {std::pair{"unk_token", &source.unk_token}, std::pair{"continuing_subword_prefix", &source.continuing_prefix}}) {
    const json* value = member(model, key);
    if (value == nullptr || value->is_null()) continue;
    if (!value->is_string()) return damaged(trf("core.tokenizer.not_string", arg("file", kTokenizerJson), arg("field", key)));
    *out = value->get<std::string>();
  }
  if (auto e = bert_normalizer(root, source)) return *e;
  return source;
}

Error missing_files(TokenizerFamily family) {
  return Error{tr(family == TokenizerFamily::WordPiece ? "core.tokenizer.missing_wordpiece_files" : "core.tokenizer.missing_bpe_files"),
               tr("core.tokenizer.hint_download")};
}

Result<std::shared_ptr<const PretrainedTokenizer>> from_files_unguarded(const std::map<std::string, std::string>& files,
                                                                        const TokenizerHints& hints) {
  const auto file = [&](const char* name) -> const std::string* {
    const auto it = files.find(name);
    return it == files.end() ? nullptr : &it->second;
  };
  // tokenizer.json's model.type decides when it says BPE or WordPiece.
  bool untyped_tokenizer_json = false;
  if (const std::string* text = file(kTokenizerJson)) {
    Result<json> root = parse_json(*text, kTokenizerJson);
    if (!root) return root.error();
    if (!root->is_object()) return damaged(trf("core.tokenizer.root_not_object", arg("file", kTokenizerJson)));
    const json* model = member(*root, "model");
    const json* type = model == nullptr ? nullptr : member(*model, "type");
    if (type != nullptr && type->is_string()) {
      const std::string& name = type->get_ref<const std::string&>();
      if (name != "BPE" && name != "WordPiece")  // i18n: name
        return Error{trf("core.tokenizer.unsupported_model", arg("file", kTokenizerJson), arg("type", shown_piece(name))),
                     tr("core.tokenizer.hint_families")};
      Result<TokenizerSource> source = source_from_tokenizer_json(*root, *model);
      if (!source) return source.error();
      if (name == "BPE") return make_byte_level_bpe(std::move(*source), hints);  // i18n: name
      if (auto e = bert_config(files, *source)) return *e;
      return make_wordpiece(std::move(*source), hints);
    }
    untyped_tokenizer_json = true;
  }
  const std::string* vocab_json = file(kVocabJson);
  const std::string* merges_txt = file(kMergesTxt);
  if (vocab_json != nullptr && merges_txt != nullptr) {
    TokenizerSource source;
    source.vocab_file = kVocabJson;
    source.merges_file = kMergesTxt;
    Result<json> vocab = parse_json(*vocab_json, kVocabJson);
    if (!vocab) return vocab.error();
    if (!vocab->is_object()) return damaged(trf("core.tokenizer.root_not_object", arg("file", kVocabJson)));
    Result<std::vector<std::string>> pieces = dense_vocabulary(*vocab, kVocabJson, {});
    if (!pieces) return pieces.error();
    source.pieces = std::move(*pieces);
    Result<std::vector<MergeRule>> merges = merges_from_lines(*merges_txt, kMergesTxt);
    if (!merges) return merges.error();
    source.merges = std::move(*merges);
    return make_byte_level_bpe(std::move(source), hints);
  }
  if (const std::string* vocab_txt = file(kVocabTxt)) {
    TokenizerSource source;
    source.vocab_file = kVocabTxt;
    Result<std::vector<std::string>> pieces = vocabulary_from_lines(*vocab_txt, kVocabTxt);
    if (!pieces) return pieces.error();
    source.pieces = std::move(*pieces);
    if (auto e = bert_config(files, source)) return *e;
    return make_wordpiece(std::move(source), hints);
  }
  if (untyped_tokenizer_json)
    return Error{trf("core.tokenizer.no_model_type", arg("file", kTokenizerJson)), tr("core.tokenizer.hint_families")};
  return missing_files(hints.family);
}

}  // namespace

// [SECTION] load / from_files / id

Result<std::shared_ptr<const PretrainedTokenizer>> PretrainedTokenizer::load(const std::string& dir, const TokenizerHints& hints) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> files;
  for (const char* name : {kTokenizerJson, kTokenizerConfig, kVocabJson, kMergesTxt, kVocabTxt}) {
    const fs::path path = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec)) || ec) continue;
    Result<std::string> text = read_file(path.string());
    if (!text) return text.error();
    files.emplace(name, std::move(*text));
  }
  return from_files(files, hints);
}

Result<std::shared_ptr<const PretrainedTokenizer>> PretrainedTokenizer::from_files(const std::map<std::string, std::string>& files,
                                                                                   const TokenizerHints& hints) {
  try {
    return from_files_unguarded(files, hints);
  } catch (const json::exception& e) {  // a value of an unexpected type read past a check: a damaged file, never a crash
    return damaged(trf("core.tokenizer.unreadable", arg("reason", e.what())));
  } catch (const std::bad_alloc&) {
    return Error{tr("core.tokenizer.out_of_memory"), tr("core.tokenizer.hint_redownload")};
  }
}

int PretrainedTokenizer::id(std::string_view piece) const {
  const auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

void PretrainedTokenizer::index_pieces() {
  index_.clear();
  index_.reserve(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i) index_.emplace(pieces_[i], static_cast<int>(i));
}

}  // namespace qkv
