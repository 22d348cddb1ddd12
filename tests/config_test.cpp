// Session validation and the JSON round trip: bad input is refused with a reason, good input survives.
#include "core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/files.h"

namespace qkv {
namespace {

std::string what_of(const Session& s) {
  const auto e = validate(s);
  return e ? e->what + " | " + e->hint : "";
}

TEST(Config, DefaultSessionIsValid) { EXPECT_EQ(validate(Session{}), std::nullopt); }

TEST(Config, InvalidConfigurationsSayWhatAndWhy) {
  Session s;
  s.model.d_model = 30;
  s.model.heads = 4;
  EXPECT_NE(what_of(s).find("d_model = 30 is not divisible by h = 4"), std::string::npos);
  s.model.d_k = 8;
  s.model.d_v = 8;  // explicit widths make it valid
  EXPECT_EQ(what_of(s), "");

  s = Session{};
  s.model.heads = 0;
  EXPECT_NE(what_of(s).find("heads = 0 is out of range"), std::string::npos);
  s = Session{};
  s.model.d_ff = 0;
  EXPECT_NE(what_of(s).find("d_ff = 0"), std::string::npos);
  s = Session{};
  s.model.layers = -1;
  EXPECT_NE(what_of(s).find("layers"), std::string::npos);
  s = Session{};
  s.model.max_len = 5;  // the default sentence has 12 tokens
  EXPECT_NE(what_of(s).find("12 positions but the positional table has max_len = 5"), std::string::npos);
  s = Session{};
  s.input.text = "   ";
  EXPECT_NE(what_of(s).find("has no tokens"), std::string::npos);
  s = Session{};
  s.model.pe = PosEncoding::RoPE;
  s.model.d_k = 7;
  EXPECT_NE(what_of(s).find("RoPE needs an even d_k"), std::string::npos);
  s = Session{};
  s.model.temperature = 0.0f;
  EXPECT_NE(what_of(s).find("temperature"), std::string::npos);
  s = Session{};
  s.model.pe_base = 1.0;
  EXPECT_NE(what_of(s).find("base"), std::string::npos);
  s = Session{};
  s.model.dropout = 1.0f;
  EXPECT_NE(what_of(s).find("dropout"), std::string::npos);
  s = Session{};
  s.padding_positions = {40};
  EXPECT_NE(what_of(s).find("padding position 40"), std::string::npos);
  s = Session{};
  s.decode_steps = 3;
  EXPECT_NE(what_of(s).find("encoder-only model does not generate"), std::string::npos);
  s.model.arch = Arch::DecoderOnly;
  s.model.norm = NormKind::BatchNorm;
  EXPECT_NE(what_of(s).find("BatchNorm"), std::string::npos);
  s = Session{};
  s.model.projection = Projection::Identity;
  s.model.d_k = 4;
  EXPECT_NE(what_of(s).find("identity projections"), std::string::npos);
}

TEST(Config, EnumNamesRoundTrip) {
  for (int i = 0; i < static_cast<int>(PosEncoding::Count); ++i) {
    PosEncoding pe{};
    ASSERT_TRUE(parse(name(static_cast<PosEncoding>(i)), pe));
    EXPECT_EQ(static_cast<int>(pe), i);
  }
  NormKind norm{};
  EXPECT_FALSE(parse("groupnorm", norm));
  EXPECT_EQ(all_names<NormKind>(), "layernorm, batchnorm, rmsnorm, none");
  MaskFlags m = 0;
  ASSERT_TRUE(parse_mask("causal+padding", m));
  EXPECT_EQ(m, kMaskCausal | kMaskPadding);
  EXPECT_EQ(mask_name(m), "causal+padding");
  ASSERT_TRUE(parse_mask("none", m));
  EXPECT_EQ(m, kMaskNone);
  EXPECT_FALSE(parse_mask("causal+diagonal", m));
}

Session unusual_session() {
  Session s;
  s.input = {"我 爱 attention [PAD]", "target words"};
  s.extra_batch = {{"second one", "two"}};
  s.tokenizer = TokenizerKind::Chars;
  s.add_special_tokens = true;
  s.padding_positions = {1, 2};
  s.model.arch = Arch::EncoderDecoder;
  s.model.layers = 3;
  s.model.d_model = 24;
  s.model.heads = 3;
  s.model.d_k = 6;
  s.model.d_v = 10;
  s.model.pe = PosEncoding::RoPE;
  s.model.pe_base = 500.0;
  s.model.scoring = Scoring::Additive;
  s.model.score_scale = ScoreScale::None;
  s.model.temperature = 0.75f;
  s.model.projection = Projection::TiedQK;
  s.model.residual = false;
  s.model.norm = NormKind::RMSNorm;
  s.model.norm_placement = NormPlacement::Pre;
  s.model.activation = Activation::GELU;
  s.model.bias = false;
  s.encoder_mask = kMaskPadding | kMaskCustom;
  s.decoder_mask = kMaskCausal;
  s.custom_cells = {{0, 1}, {2, 3}};
  s.mode = Mode::Train;
  s.seed = 0xFFFFFFFFFFFFull;
  s.loss = LossKind::Pattern;
  s.label_smoothing = 0.1f;
  s.loss_pattern = Pattern::Previous;
  s.weights = "reverse.safetensors";
  return s;
}

TEST(Config, JsonRoundTripKeepsEveryField) {
  const Session s = unusual_session();
  const std::string text = to_json(s);
  Result<Session> back = session_from_json(text);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(to_json(*back), text);
  EXPECT_EQ(back->custom_cells, s.custom_cells);
  EXPECT_EQ(back->seed, s.seed);
  EXPECT_EQ(back->model.projection, Projection::TiedQK);
  EXPECT_EQ(back->loss, LossKind::Pattern);
  EXPECT_EQ(back->loss_pattern, Pattern::Previous);
  EXPECT_EQ(back->weights, "reverse.safetensors");
}

TEST(Config, LossChoicesMustFitTheArchitecture) {
  Session s;  // encoder-only
  s.loss = LossKind::NextToken;
  EXPECT_NE(what_of(s).find("next-token loss needs a decoder"), std::string::npos);
  s.loss = LossKind::TargetSequence;
  EXPECT_NE(what_of(s).find("needs an encoder–decoder"), std::string::npos);
  s.loss = LossKind::Reconstruct;
  s.label_smoothing = 1.0f;
  EXPECT_NE(what_of(s).find("label_smoothing"), std::string::npos);
}

TEST(Config, JsonErrorsNameTheProblem) {
  const auto error_of = [](const std::string& text) {
    Result<Session> r = session_from_json(text);
    return r.ok() ? std::string("accepted") : r.error().message();
  };
  EXPECT_NE(error_of("{\"text\": \"a b\",").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{\"txet\": \"typo\"}").find("unknown key txet"), std::string::npos);
  EXPECT_NE(error_of("{\"model\": {\"heads\": \"four\"}}").find("model.heads has the wrong type"), std::string::npos);
  EXPECT_NE(error_of("{\"model\": {\"pe\": \"cosine\"}}").find("model.pe = \"cosine\" is not known"), std::string::npos);
  EXPECT_NE(error_of("{\"model\": {\"pe\": \"cosine\"}}").find("sinusoidal, learned, rope, alibi, none"), std::string::npos);
  EXPECT_NE(error_of("{\"encoder_mask\": \"diagonal\"}").find("is not a mask"), std::string::npos);
  EXPECT_NE(error_of("{\"custom_cells\": [[1]]}").find("custom cell"), std::string::npos);
  EXPECT_NE(error_of("{\"model\": {\"d_model\": 30}}").find("not divisible"), std::string::npos);
  EXPECT_EQ(error_of("{\"text\": \"just this\"}"), "accepted");  // missing keys take their defaults
}

TEST(Config, SaveIsAtomicAndRefusesInvalidSessions) {
  const std::string dir = testing::TempDir() + "/qkv_config_test";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/session.json";
  ASSERT_EQ(save_session(unusual_session(), path), std::nullopt);
  Result<Session> loaded = load_session(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(to_json(*loaded), to_json(unusual_session()));

  Session bad = unusual_session();
  bad.model.heads = 5;  // 24 / 5 with d_k, d_v explicit is fine, so break it another way
  bad.model.layers = 0;
  ASSERT_NE(save_session(bad, path), std::nullopt);
  EXPECT_EQ(to_json(*load_session(path)), to_json(unusual_session()));  // the good file is untouched
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename(), "session.json") << "left behind: " << entry.path();

  { std::ofstream(path + ".broken") << "{\"text\": \"cut off"; }
  Result<Session> broken = load_session(path + ".broken");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().what.find("session.json.broken"), std::string::npos);
  EXPECT_FALSE(load_session(dir + "/missing.json").ok());
  EXPECT_NE(write_file_atomically(dir + "/no/such/folder/x.json", "x"), std::nullopt);
  std::filesystem::remove_all(dir);
}

// Issue 11, defect 9: a save killed before its rename leaves "<dest>.tmp-XXXXXX"; the next save of the same file
// removes such leftovers once they are old (a fresh one may be another save in progress), and nothing else.
TEST(Config, ASaveRemovesTheStaleTempFilesOfKilledSaves) {
  namespace fs = std::filesystem;
  const std::string dir = testing::TempDir() + "/qkv_stale_temps";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string dest = dir + "/session.json";
  const auto make = [&](const std::string& name, std::chrono::minutes age) {
    std::ofstream(dir + "/" + name) << "partial";
    fs::last_write_time(dir + "/" + name, fs::file_time_type::clock::now() - age);
  };
  make("session.json.tmp-aB3xYz", std::chrono::minutes(10));   // a killed save of ours: removed
  make("session.json.tmp-Qw7rTy", std::chrono::minutes(0));    // maybe a save in progress: kept
  make("other.json.tmp-aB3xYz", std::chrono::minutes(10));     // another file's: kept
  make("session.json.tmp-toolongname", std::chrono::minutes(10));  // not mkstemp's pattern: kept
  ASSERT_EQ(write_file_atomically(dest, "{}"), std::nullopt);
  EXPECT_FALSE(fs::exists(dir + "/session.json.tmp-aB3xYz"));
  EXPECT_TRUE(fs::exists(dir + "/session.json.tmp-Qw7rTy"));
  EXPECT_TRUE(fs::exists(dir + "/other.json.tmp-aB3xYz"));
  EXPECT_TRUE(fs::exists(dir + "/session.json.tmp-toolongname"));
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 4u) << "the new file, and no temp file of this save";
  fs::remove_all(dir);
}

// Issue 11: a file that is not a file, or far too large, is refused before it is read — /dev/zero never ends (--session
// /dev/zero took memory until the machine gave out) and opening a FIFO blocked until something wrote to it.
TEST(Files, DevicesFoldersPipesAndOversizedFilesAreRefusedBeforeReading) {
  namespace fs = std::filesystem;
  const std::string dir = (fs::temp_directory_path() / ("qkvlab_files_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {std::string("/dev/zero"), dir, fifo}) {
    Result<std::string> text = read_file(path);
    ASSERT_FALSE(text) << path;
    EXPECT_NE(text.error().what.find("is not a file"), std::string::npos) << text.error().what;
    EXPECT_FALSE(MappedFile::open(path)) << path;
    EXPECT_FALSE(load_session(path)) << path;
  }
  ASSERT_FALSE(write_file_atomically(dir + "/s.json", std::string(2000, ' ') + "{}"));
  Result<std::string> large = read_file(dir + "/s.json", 1000);
  ASSERT_FALSE(large);
  EXPECT_NE(large.error().what.find("2002 bytes, more than"), std::string::npos) << large.error().what;
  EXPECT_TRUE(read_file(dir + "/s.json"));
  EXPECT_FALSE(read_file(dir + "/missing.json"));
  fs::remove_all(dir);
}

// Issue 11, defects 1, 2 and 10: a number beyond double, a field that would become inf, a negative or fractional
// count are each refused with the reason — never an abort, a wrapped value, or a session that cannot be saved back.
TEST(Config, NumbersOutOfRangeAreRefusedWithTheReason) {
  const auto error_of = [](const std::string& text) {
    Result<Session> s = session_from_json(text);
    return s ? std::string() : s.error().message();
  };
  EXPECT_NE(error_of(R"({"seed": 1e309})").find("number overflow"), std::string::npos) << error_of(R"({"seed": 1e309})");
  EXPECT_NE(error_of(R"({"model": {"temperature": 1e309}})").find("too large"), std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"norm_eps": 1e39}})").find("model.norm_eps"), std::string::npos) << "1e39 is inf as a float";
  EXPECT_NE(error_of(R"({"model": {"norm_eps": 1e39}})").find("finite"), std::string::npos);
  EXPECT_NE(error_of(R"({"seed": -1})").find("≥ 0"), std::string::npos) << "not 18446744073709551615";
  EXPECT_NE(error_of(R"({"model": {"layers": 2.5}})").find("model.layers"), std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"heads": 3000000000}})").find("model.heads"), std::string::npos) << "does not fit an int";
  EXPECT_NE(error_of(R"({"model": {"norm_eps": "small"}})").find("wrong type"), std::string::npos);
  // Inside arrays too: 5e9 was wrapped to 705032704, a fraction or a float conversion was undefined behaviour.
  EXPECT_NE(error_of(R"({"padding_positions": [1, 5000000000]})").find("padding_positions[1] = 5000000000 is not a whole number"), std::string::npos)
      << error_of(R"({"padding_positions": [1, 5000000000]})");
  EXPECT_NE(error_of(R"({"padding_positions": [1e300]})").find("padding_positions[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({"padding_positions": [-1.5]})").find("padding_positions[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({"padding_positions": 3})").find("must be an array"), std::string::npos);
  EXPECT_NE(error_of(R"({"custom_cells": [[4294967296, 0]]})").find("row = 4294967296"), std::string::npos)
      << error_of(R"({"custom_cells": [[4294967296, 0]]})");
  EXPECT_NE(error_of(R"({"custom_cells": [[0, -2147483649]]})").find("column"), std::string::npos);
  // What is accepted saves and loads back to the same session.
  Result<Session> ok = session_from_json(R"({"seed": 18446744073709551615, "model": {"norm_eps": 1e-30, "temperature": 3.4e38}})");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->seed, 18446744073709551615ull);
  Result<Session> back = session_from_json(to_json(*ok));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(to_json(*back), to_json(*ok));
}

}  // namespace
}  // namespace qkv
