// safetensors: bit-exact round trips, and every kind of damage is an Error, never a crash.
#include "core/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "core/files.h"
#include "core/model.h"

namespace qkv {
namespace {

TensorMap sample() {
  TensorMap t;
  Mat a(2, 3);
  a << 1, -2, 3.5f, -std::numeric_limits<float>::infinity(), 0, 1e-30f;
  t.put("encoder.0.self_attn.W_Q", a);
  t.put("bias", Mat::Constant(1, 4, 0.25f));
  t.put("empty", Mat(0, 3));
  return t;
}

TEST(Safetensors, RoundTripIsBitExactWithMetadata) {
  const TensorMap t = sample();
  Metadata meta{{"seed", "42"}, {"trainer", "qkvlab"}};
  const std::string bytes = safetensors_bytes(t, meta);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);  // data starts aligned
  Metadata back_meta;
  Result<TensorMap> back = parse_safetensors(bytes, &back_meta);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back_meta, meta);
  for (const auto& e : t.entries()) {
    const Mat* m = back->find(e.path);
    ASSERT_NE(m, nullptr) << e.path;
    ASSERT_EQ(m->rows(), e.value.rows());
    ASSERT_EQ(m->cols(), e.value.cols());
    if (e.value.size() > 0) {
      EXPECT_EQ(std::memcmp(m->data(), e.value.data(), sizeof(float) * e.value.size()), 0) << e.path;
    }
  }
}

TEST(Safetensors, AModelsWeightsRoundTripThroughAFile) {
  Session s;
  const Trace t = *run(s);
  const std::string path = testing::TempDir() + "/qkv_weights.safetensors";
  ASSERT_EQ(save_safetensors(path, *t.weights), std::nullopt);
  Result<TensorMap> back = load_safetensors(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->size(), t.weights->size());
  EXPECT_EQ(back->at("encoder.1.ffn.W_2"), t.weights->at("encoder.1.ffn.W_2"));
  std::remove(path.c_str());
}

// load_safetensors maps the file (core/files.h MappedFile): a folder, an empty file, a missing one and a truncated
// one are each an Error that names the file, never a crash.
TEST(Safetensors, AMappedFileThatIsNotAGoodCheckpointIsAnError) {
  const std::string dir = testing::TempDir() + "/qkv_mapped_checks";
  std::filesystem::create_directories(dir);
  Result<TensorMap> folder = load_safetensors(dir);
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.error().what.find("not a regular file"), std::string::npos) << folder.error().message();
  EXPECT_FALSE(load_safetensors(dir + "/missing.safetensors").ok());
  const std::string empty = dir + "/empty.safetensors";
  ASSERT_EQ(write_file_atomically(empty, ""), std::nullopt);
  Result<TensorMap> e = load_safetensors(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().what.find(empty), std::string::npos) << e.error().message();
  const std::string bytes = safetensors_bytes(sample());
  const std::string cut = dir + "/cut.safetensors";
  ASSERT_EQ(write_file_atomically(cut, std::string_view(bytes).substr(0, bytes.size() - 3)), std::nullopt);
  EXPECT_FALSE(load_safetensors(cut).ok());
  Result<MappedFile> mapped = MappedFile::open(cut);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped->bytes(), std::string_view(bytes).substr(0, bytes.size() - 3));
  MappedFile moved = std::move(*mapped);
  EXPECT_EQ(moved.bytes().size(), bytes.size() - 3);
  std::filesystem::remove_all(dir);
}

// Issue 11, defect 3: 2147352580 × 1073807362 × 8 bytes wraps to 64 in 64 bits; it must be refused, not allocated.
TEST(Safetensors, AShapeWhoseByteCountWrapsIsRefused) {
  std::string json = R"({"x": {"dtype": "F64", "shape": [2147352580, 1073807362], "data_offsets": [0, 64]}})";
  std::string bytes(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += json + std::string(64, '\0');
  Result<TensorMap> r = parse_safetensors(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find("2147352580 × 1073807362 × 8 bytes, more than 2⁶⁴, in 64"), std::string::npos) << r.error().message();
}

TEST(Safetensors, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = safetensors_bytes(sample());
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<TensorMap> r = parse_safetensors(std::string_view(bytes).substr(0, len));
    EXPECT_FALSE(r.ok()) << "a file cut to " << len << " bytes was accepted";
  }
}

std::string with_header(const std::string& json, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  return out + json + std::string(data_bytes, '\0');
}

TEST(Safetensors, DamagedHeadersSayWhatIsWrong) {
  const auto what = [](const std::string& bytes) {
    Result<TensorMap> r = parse_safetensors(bytes);
    return r.ok() ? std::string("accepted") : r.error().what;
  };
  std::string huge(8, '\0');
  const uint64_t big = kMaxSafetensorsHeader + 1;
  std::memcpy(huge.data(), &big, 8);
  EXPECT_NE(what(huge).find("over the 100 MiB limit"), std::string::npos);
  EXPECT_NE(what(with_header("{not json", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(what(with_header(R"({"a": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", 4)).find("dtype I32"), std::string::npos);
  EXPECT_NE(what(with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4)).find("needs 8 bytes"),
            std::string::npos);
  EXPECT_NE(what(with_header(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 40]}})", 4)).find("outside the file"),
            std::string::npos);
  EXPECT_NE(
      what(
          with_header(
              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
              8))
          .find("overlap"),
      std::string::npos);
  EXPECT_NE(what(with_header(R"({"a": {"dtype": "F32", "shape": [1, 1, 1], "data_offsets": [0, 4]}})", 4)).find("3 dimensions"),
            std::string::npos);
  EXPECT_NE(what(with_header(R"({"a": {"dtype": "F32"}})", 0)).find("malformed"), std::string::npos);
  // A float64 tensor is read and converted.
  std::string f64 = with_header(R"({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 0);
  const double v = 0.5;
  f64.append(reinterpret_cast<const char*>(&v), 8);
  Result<TensorMap> r = parse_safetensors(f64);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->at("a")(0, 0), 0.5f);
  EXPECT_FALSE(load_safetensors("/nonexistent/weights.safetensors").ok());
}

}  // namespace
}  // namespace qkv
