// Exports: every tensor of a run as .npy, bit-exact, with a manifest that names it.
#include "core/export.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/model.h"
#include "core/npy.h"

namespace qkv {
namespace {

TEST(Export, EveryTensorRoundTripsBitExactlyAndTheManifestDescribesIt) {
  Session s;
  s.model.layers = 1;
  s.model.heads = 2;
  s.model.d_model = 8;
  s.encoder_mask = kMaskPadding;
  s.input.text = "a b [PAD]";  // −∞ cells in M must survive too
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  const std::string dir = testing::TempDir() + "/qkv_export_test";
  std::filesystem::remove_all(dir);
  ASSERT_EQ(export_npy(*t, s, dir), std::nullopt);

  std::ifstream in(dir + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(in);
  EXPECT_EQ(manifest["tensors"].size(), t->weights->size() + t->tensors.size());
  EXPECT_EQ(manifest["tokens"]["source"], nlohmann::json(t->source_tokens));
  EXPECT_EQ(manifest["session"]["model"]["d_model"], 8);
  for (const auto& entry : manifest["tensors"]) {
    const std::string name = entry["name"];
    const Mat* expected = entry["kind"] == "weight" ? t->weights->find(name) : t->tensors.find(name);
    ASSERT_NE(expected, nullptr) << name;
    EXPECT_EQ(entry["shape"][0], expected->rows());
    EXPECT_EQ(entry["shape"][1], expected->cols());
    EXPECT_EQ(entry["dtype"], "float32");
    Result<Mat> back = read_npy(dir + "/" + entry["file"].get<std::string>());
    ASSERT_TRUE(back.ok()) << back.error().message();
    ASSERT_EQ(back->rows(), expected->rows());
    ASSERT_EQ(back->cols(), expected->cols());
    EXPECT_EQ(std::memcmp(back->data(), expected->data(), sizeof(float) * expected->size()), 0) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/encoder.0.self_attn.head.1.P.npy"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/encoder.0.self_attn.W_Q.npy"));
  std::filesystem::remove_all(dir);
}

TEST(Export, AnUnwritableFolderIsAnErrorNotACrash) {
  Session s;
  s.model.layers = 1;
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  const std::string file = testing::TempDir() + "/qkv_export_blocker";
  { std::ofstream(file) << "a file where a folder should be"; }
  const auto e = export_npy(*t, s, file + "/sub");
  ASSERT_NE(e, std::nullopt);
  EXPECT_NE(e->what.find("cannot create folder"), std::string::npos);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

TEST(Export, CsvHasLabelsQuotesAndRoundTrippableValues) {
  Mat M(2, 3);
  M << 0.1f, -std::numeric_limits<float>::infinity(), 1.0f / 3.0f, 2.0f, 0.0f, -1e-20f;
  const std::vector<std::string> rows{"it", "say \"hi\""}, cols{"a", "b,c", "d"};
  const std::string csv = tensor_csv(M, &rows, &cols);
  EXPECT_EQ(csv, ",a,\"b,c\",d\nit,0.100000001,-inf,0.333333343\n\"say \"\"hi\"\"\",2,0,-9.99999968e-21\n");
  // 9 significant digits read back to the same float.
  EXPECT_EQ(std::strtof("0.333333343", nullptr), 1.0f / 3.0f);
  EXPECT_EQ(tensor_csv(M.topRows(1)), "0.100000001,-inf,0.333333343\n");
}

}  // namespace
}  // namespace qkv

#include "core/network.h"

namespace qkv {
namespace {

// Gradients are named dL/d<path>: their files must not depend on the '/' (issue 9, item 8).
TEST(Export, WithGradientsEveryTensorIsOneFileInTheFolderAndRoundTrips) {
  Session s;
  s.model.arch = Arch::DecoderOnly;
  s.decoder_mask = kMaskCausal | kMaskPadding;
  s.model.layers = 1;
  s.model.heads = 2;
  s.model.d_model = 8;
  s.input.text = "the cat sat";
  Result<Trace> t = run(s);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(add_gradients(s, *t), std::nullopt);
  ASSERT_TRUE(t->tensors.contains("dL/ddecoder.0.ffn.W_1"));
  EXPECT_EQ(export_file_stem("dL/ddecoder.0.ffn.W_1"), "grad.decoder.0.ffn.W_1");
  EXPECT_EQ(export_file_stem("encoder.0.self_attn.head.1.P"), "encoder.0.self_attn.head.1.P");
  EXPECT_EQ(export_file_stem("a/b\\c"), "a_b_c");

  const std::string dir = testing::TempDir() + "/qkv_export_grad_test";
  std::filesystem::remove_all(dir);
  ASSERT_EQ(export_npy(*t, s, dir), std::nullopt);
  ASSERT_EQ(export_csv(*t, dir + "/csv"), std::nullopt);
  std::ifstream in(dir + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(in);
  EXPECT_EQ(manifest["tensors"].size(), t->weights->size() + t->tensors.size());
  EXPECT_NE(manifest["file_names"].get<std::string>().find("grad.<name>.npy"), std::string::npos);
  int gradients = 0;
  for (const auto& entry : manifest["tensors"]) {
    const std::string name = entry["name"], file = entry["file"];
    EXPECT_EQ(file.find('/'), std::string::npos) << file;
    gradients += name.rfind("dL/d", 0) == 0 ? 1 : 0;
    const Mat* expected = entry["kind"] == "weight" ? t->weights->find(name) : t->tensors.find(name);
    ASSERT_NE(expected, nullptr) << name;
    Result<Mat> back = read_npy(dir + "/" + file);
    ASSERT_TRUE(back.ok()) << back.error().message();
    ASSERT_EQ(back->size(), expected->size());
    EXPECT_EQ(std::memcmp(back->data(), expected->data(), sizeof(float) * expected->size()), 0) << name;
    const std::string csv = dir + "/csv/" + file.substr(0, file.size() - 4) + ".csv";
    EXPECT_TRUE(std::filesystem::is_regular_file(csv)) << csv;
  }
  EXPECT_GT(gradients, 10);
  // One flat folder: nothing but files (and the csv folder made here).
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_TRUE(e.is_regular_file() || e.path().filename() == "csv") << e.path();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qkv
