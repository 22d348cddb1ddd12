// Tests for core/npy: the .npy 1.0 writer (byte layout, atomic save) and the reader (float32/float64, 1-D and 2-D,
// and an Error — never a crash — for every kind of damaged file).
#include "core/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace qkv {
namespace {

namespace fs = std::filesystem;

const std::string kMagicV1("\x93NUMPY\x01\x00", 8);

// A .npy file built by hand, the way numpy lays it out: magic, version, little-endian header length, the header
// dict padded with spaces and ended by '\n' so that the data starts at a multiple of 64.
std::string hand_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const size_t len = header.size();
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  return out + header + data;
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

float bits_to_float(uint32_t bits) { return std::bit_cast<float>(bits); }

// Header length as written in bytes 8..9 of a version 1.0 file.
size_t header_len_v1(const std::string& bytes) {
  return static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
}

// A fresh directory per test, removed afterwards.
class NpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkvlab_npy_test_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    return names;
  }
  fs::path dir_;
};

// [SECTION] Writer layout

TEST(Npy, HeaderHasMagicVersionAndIsPaddedTo64) {
  for (auto [rows, cols] : {std::pair{1, 1}, {2, 3}, {17, 5}, {1000, 1}, {0, 4}}) {
    const Mat M = Mat::Constant(rows, cols, 1.5f);
    const std::string bytes = npy_bytes(M);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 8), kMagicV1);
    const size_t hl = header_len_v1(bytes);
    EXPECT_EQ((10 + hl) % 64, 0u) << rows << "x" << cols;
    EXPECT_EQ(bytes[10 + hl - 1], '\n');
    EXPECT_EQ(bytes.size(), 10 + hl + sizeof(float) * rows * cols);
    const std::string header = bytes.substr(10, hl);
    EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
    EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
    EXPECT_NE(header.find("'shape': (" + std::to_string(rows) + ", " + std::to_string(cols) + ")"), std::string::npos) << header;
  }
}

TEST(Npy, DataIsLittleEndianFloat32InCOrder) {
  Mat M(2, 3);
  M << 1, 2, 3, 4, 5, 6;
  const std::string bytes = npy_bytes(M);
  const size_t offset = 10 + header_len_v1(bytes);
  // C order: row 0 then row 1. 1.0f = 0x3F800000 → bytes 00 00 80 3F.
  EXPECT_EQ(bytes.substr(offset, 4), std::string("\x00\x00\x80\x3F", 4));
  const std::vector<float> expected = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(bytes.substr(offset), raw_bytes(expected));
}

TEST(Npy, StridedBlockIsWrittenContiguously) {
  // A Ref to a block has an outer stride; the file must hold only the block's values, row by row.
  Mat big(4, 5);
  for (int i = 0; i < 20; ++i) big.data()[i] = static_cast<float>(i);
  const std::string bytes = npy_bytes(big.block(1, 2, 2, 3));
  const size_t offset = 10 + header_len_v1(bytes);
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
  // rows 1..2, cols 2..4 of 0..19 laid out 5 per row: 7 8 9 / 12 13 14.
  EXPECT_EQ(bytes.substr(offset), raw_bytes(std::vector<float>{7, 8, 9, 12, 13, 14}));
}

// [SECTION] Round trips

TEST(Npy, RoundTripIsBitExactForSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {0.0f,
                                     -0.0f,
                                     1.0f,
                                     -1.0f,
                                     inf,
                                     -inf,
                                     bits_to_float(0x7FC12345u),                // quiet NaN with a payload
                                     bits_to_float(0xFFC00001u),                // negative quiet NaN with a payload
                                     std::numeric_limits<float>::denorm_min(),  // smallest denormal, 0x00000001
                                     bits_to_float(0x807FFFFFu),                // largest negative denormal
                                     std::numeric_limits<float>::min(),
                                     std::numeric_limits<float>::max(),
                                     -std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::epsilon(),
                                     3.14159265f,
                                     -1e-30f};
  Mat M(4, 4);
  std::memcpy(M.data(), values.data(), values.size() * sizeof(float));
  const Result<Mat> back = parse_npy(npy_bytes(M));
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->rows(), 4);
  ASSERT_EQ(back->cols(), 4);
  EXPECT_EQ(std::memcmp(back->data(), M.data(), values.size() * sizeof(float)), 0);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(back->data()[i]), std::bit_cast<uint32_t>(values[i])) << "entry " << i;
}

TEST(Npy, RoundTripRandomShapes) {
  for (auto [rows, cols] : {std::pair{1, 1}, {1, 7}, {7, 1}, {13, 29}, {64, 64}}) {
    const Mat M = Mat::Random(rows, cols) * 1000.0f;
    const Result<Mat> back = parse_npy(npy_bytes(M));
    ASSERT_TRUE(back.ok()) << back.error().message();
    ASSERT_EQ(back->rows(), rows);
    ASSERT_EQ(back->cols(), cols);
    EXPECT_EQ(std::memcmp(back->data(), M.data(), sizeof(float) * rows * cols), 0) << rows << "x" << cols;
  }
}

TEST(Npy, RoundTripEmptyMatrix) {
  const Mat M(0, 3);
  const Result<Mat> back = parse_npy(npy_bytes(M));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->rows(), 0);
  EXPECT_EQ(back->cols(), 3);
}

TEST_F(NpyFiles, WriteReadRoundTripThroughAFile) {
  Mat M(3, 2);
  M << -std::numeric_limits<float>::infinity(), bits_to_float(0x7FC0BEEFu), std::numeric_limits<float>::denorm_min(), -0.0f, 1e-40f, 42.0f;
  const std::string path = (dir_ / "m.npy").string();
  ASSERT_FALSE(write_npy(path, M).has_value());
  const Result<Mat> back = read_npy(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->rows(), 3);
  ASSERT_EQ(back->cols(), 2);
  EXPECT_EQ(std::memcmp(back->data(), M.data(), sizeof(float) * 6), 0);
}

TEST_F(NpyFiles, AtomicWriteLeavesNoTempFile) {
  const std::string path = (dir_ / "weights.npy").string();
  ASSERT_FALSE(write_npy(path, Mat::Constant(2, 2, 1.0f)).has_value());
  EXPECT_EQ(listing(), std::vector<std::string>{"weights.npy"});
  // Overwriting replaces the file in place, still with nothing left beside it.
  const Mat second = Mat::Constant(3, 1, 2.0f);
  ASSERT_FALSE(write_npy(path, second).has_value());
  EXPECT_EQ(listing(), std::vector<std::string>{"weights.npy"});
  const Result<Mat> back = read_npy(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_TRUE(*back == second);
}

TEST_F(NpyFiles, WriteIntoMissingFolderIsAnError) {
  const std::optional<Error> e = write_npy((dir_ / "no_such_dir" / "m.npy").string(), Mat::Zero(1, 1));
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->what.empty());
  EXPECT_TRUE(listing().empty());
}

TEST_F(NpyFiles, ReadMissingFileIsAnError) {
  const Result<Mat> r = read_npy((dir_ / "absent.npy").string());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().what.empty());
}

TEST_F(NpyFiles, ReadDamagedFileNamesThePath) {
  const fs::path path = dir_ / "bad.npy";
  std::ofstream(path, std::ios::binary) << "not numpy at all";
  const Result<Mat> r = read_npy(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find("bad.npy"), std::string::npos) << r.error().what;
}

// [SECTION] Reading files written by numpy (built by hand here)

TEST(Npy, ParsesHandBuiltFloat64) {
  // numpy.save of np.array([[0.5, -2.25], [1e10, 3.0]]) (float64, C order).
  const std::string bytes =
      hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", raw_bytes(std::vector<double>{0.5, -2.25, 1e10, 3.0}));
  ASSERT_EQ(bytes.size() % 8, 0u);
  const Result<Mat> r = parse_npy(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->rows(), 2);
  ASSERT_EQ(r->cols(), 2);
  // Converted to float32: 0.5, −2.25, 3.0 are exact; 1e10 rounds to the nearest float, 10000000000.
  EXPECT_EQ((*r)(0, 0), 0.5f);
  EXPECT_EQ((*r)(0, 1), -2.25f);
  EXPECT_EQ((*r)(1, 0), static_cast<float>(1e10));
  EXPECT_EQ((*r)(1, 1), 3.0f);
}

TEST(Npy, ParsesHandBuiltFloat32WithoutSpaces) {
  // Whitespace in the dict is optional; key order may differ.
  const std::string bytes = hand_npy("{'shape':(1,3),'fortran_order':False,'descr':'<f4'}", raw_bytes(std::vector<float>{1, 2, 3}));
  const Result<Mat> r = parse_npy(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->rows(), 1);
  ASSERT_EQ(r->cols(), 3);
  EXPECT_EQ((*r)(0, 2), 3.0f);
}

// Issue 11, defect 6: a 40 KB dtype or shape text made std::regex recurse until the stack overflowed.
TEST(Npy, AHugeDtypeOrShapeTextIsAnErrorNotACrash) {
  const std::string long_descr = "{'descr': '<f" + std::string(40000, '4') + "', 'fortran_order': False, 'shape': (1, 1), }";
  Result<Mat> r = parse_npy(hand_npy(long_descr, raw_bytes(std::vector<float>{1})));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find("dtype"), std::string::npos) << r.error().message();
  const std::string long_shape = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(40000, ' ') + "1, 1), }";
  r = parse_npy(hand_npy(long_shape, raw_bytes(std::vector<float>{1})));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find("shape"), std::string::npos) << r.error().message();
  const std::string fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }";
  r = parse_npy(hand_npy(fortran, raw_bytes(std::vector<float>{1})));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what.find("Fortran"), std::string::npos);
  EXPECT_FALSE(parse_npy(hand_npy("{'descr': '<f4', 'shape': 7}", raw_bytes(std::vector<float>{1}))).ok());
}

TEST(Npy, OneDimensionalBecomesOneRow) {
  // shape (n,) → [1, n]
  const std::string bytes =
      hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", raw_bytes(std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f}));
  const Result<Mat> r = parse_npy(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->rows(), 1);
  ASSERT_EQ(r->cols(), 4);
  EXPECT_EQ((*r)(0, 0), 1.0f);
  EXPECT_EQ((*r)(0, 1), -2.0f);
  EXPECT_EQ((*r)(0, 2), 3.5f);
  EXPECT_EQ((*r)(0, 3), 0.25f);
}

TEST(Npy, ParsesVersion2Header) {
  // Version 2.0 has a 4-byte header length; otherwise the same.
  const std::string bytes = hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", raw_bytes(std::vector<float>{7, 8}), 2);
  ASSERT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x02\x00", 8));
  const Result<Mat> r = parse_npy(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->rows(), 2);
  ASSERT_EQ(r->cols(), 1);
  EXPECT_EQ((*r)(1, 0), 8.0f);
}

// [SECTION] Damaged input: an Error with a message, never a crash

void expect_error(const std::string& bytes, const char* what) {
  const Result<Mat> r = parse_npy(bytes);
  EXPECT_FALSE(r.ok()) << what << " was accepted";
  if (!r.ok()) {
    EXPECT_FALSE(r.error().what.empty()) << what;
  }
}

const std::string kGoodDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const std::string kSixFloats = raw_bytes(std::vector<float>{1, 2, 3, 4, 5, 6});

TEST(Npy, GoodHandBuiltBaselineParses) {
  // The damaged files below are this one with one thing wrong; it must parse, or they prove nothing.
  const Result<Mat> r = parse_npy(hand_npy(kGoodDict, kSixFloats));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)(1, 2), 6.0f);
}

TEST(Npy, EmptyInputIsAnError) { expect_error("", "empty input"); }

TEST(Npy, BadMagicIsAnError) {
  std::string bytes = hand_npy(kGoodDict, kSixFloats);
  bytes[0] = 'x';
  expect_error(bytes, "bad magic byte 0");
  bytes = hand_npy(kGoodDict, kSixFloats);
  bytes[3] = 'm';  // \x93NUmPY
  expect_error(bytes, "bad magic letter");
  expect_error(std::string("\x93NUMPY", 6), "magic only");
  expect_error(kMagicV1, "magic and version only");
  expect_error("PK\x03\x04 a zip file, perhaps an .npz", "zip");
}

TEST(Npy, UnsupportedVersionIsAnError) {
  std::string bytes = hand_npy(kGoodDict, kSixFloats);
  bytes[6] = '\x09';
  expect_error(bytes, "version 9");
}

TEST(Npy, TruncatedHeaderIsAnError) {
  const std::string bytes = hand_npy(kGoodDict, kSixFloats);
  const size_t header_end = 10 + header_len_v1(bytes);
  for (size_t cut : {size_t{10}, size_t{11}, size_t{30}, header_end - 1}) expect_error(bytes.substr(0, cut), "header cut short");
  // Version 2 with only part of its 4-byte length.
  expect_error(std::string("\x93NUMPY\x02\x00\x40", 9), "v2 length cut short");
  // A header length far beyond the end of the file.
  std::string huge = bytes;
  huge[8] = '\xFF';
  huge[9] = '\xFF';
  expect_error(huge, "header length 65535");
}

TEST(Npy, TruncatedDataIsAnError) {
  const std::string bytes = hand_npy(kGoodDict, kSixFloats);
  const size_t header_end = 10 + header_len_v1(bytes);
  for (size_t cut : {header_end, header_end + 1, bytes.size() - 4, bytes.size() - 1}) expect_error(bytes.substr(0, cut), "data cut short");
}

TEST(Npy, ShapeAndDataSizeMismatchIsAnError) {
  expect_error(hand_npy(kGoodDict, kSixFloats + raw_bytes(std::vector<float>{7})), "one float too many");
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", kSixFloats), "shape larger than data");
  expect_error(hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", kSixFloats), "f8 shape over f4 data");
  // A shape whose element count overflows 64 bits when multiplied naively must not wrap round to a small size.
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", kSixFloats), "overflowing shape");
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647), }", kSixFloats), "huge shape");
}

TEST(Npy, UnsupportedDtypeIsAnError) {
  expect_error(hand_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", kSixFloats), "<i4");
  expect_error(hand_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", kSixFloats), ">f4 big-endian");
  expect_error(hand_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", kSixFloats + kSixFloats), "<f2");
  expect_error(hand_npy("{'fortran_order': False, 'shape': (2, 3), }", kSixFloats), "no descr");
}

TEST(Npy, FortranOrderIsAnError) {
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", kSixFloats), "fortran_order True");
}

TEST(Npy, UnsupportedShapesAreErrors) {
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw_bytes(std::vector<float>{1})), "0-d scalar");
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", kSixFloats), "3-D");
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, }", kSixFloats), "no shape");
}

TEST(Npy, MalformedShapeIsAnError) {
  // A dimension is a non-negative integer. A header saying (-2, 3) is damaged and must not be read as (2, 3).
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", kSixFloats), "negative dimension");
  expect_error(hand_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3), }", kSixFloats), "fractional dimension");
}

TEST(Npy, EveryPrefixOfAGoodFileIsRejectedWithoutCrashing) {
  // Only the whole file is valid; each shorter prefix must give an Error (and run clean under the sanitizers).
  const std::string bytes = hand_npy(kGoodDict, kSixFloats);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const Result<Mat> r = parse_npy(std::string_view(bytes).substr(0, cut));
    EXPECT_FALSE(r.ok()) << "prefix of " << cut << " bytes accepted";
  }
}

}  // namespace
}  // namespace qkv
