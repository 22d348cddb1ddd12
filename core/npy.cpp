#include "core/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

#include "core/files.h"
#include "core/i18n.h"

namespace qkv {

using i18n::arg;
using i18n::tr;
using i18n::trf;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian machine");

}  // namespace

std::string npy_bytes(const MatRef& M) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(M.rows()) + ", " + std::to_string(M.cols()) + "), }";  // i18n: name
  // magic(6) + version(2) + header length(2) + header, padded with spaces and ended by '\n' to a multiple of 64.
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xFF));
  out += header;
  const Mat contiguous = M;  // a Ref may have an outer stride; Mat is row-major = C order
  out.append(reinterpret_cast<const char*>(contiguous.data()), static_cast<size_t>(contiguous.size()) * sizeof(float));
  return out;
}

std::optional<Error> write_npy(const std::string& path, const MatRef& M) { return write_file_atomically(path, npy_bytes(M)); }

namespace {

constexpr size_t kMaxNpyDescr = 64;  // characters of a dtype or shape text read (numpy writes about ten)

// The text after "'key':" in a .npy header dict, spaces skipped; nullopt when the key is absent.
std::optional<std::string_view> header_value(std::string_view header, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "'";
  const size_t at = header.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  size_t k = at + quoted.size();
  while (k < header.size() && header[k] == ' ') ++k;
  if (k >= header.size() || header[k] != ':') return std::nullopt;
  ++k;
  while (k < header.size() && header[k] == ' ') ++k;
  return header.substr(k);
}

}  // namespace

Result<Mat> parse_npy(std::string_view bytes) {
  const Error bad{tr("core.npy.not_npy"), tr("core.npy.hint_magic")};
  if (bytes.size() < kMagicSize + 4 || bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize)) return bad;
  const auto major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return Error{trf("core.npy.bad_version", arg("version", static_cast<int>(major))), tr("core.npy.hint_versions")};
  }
  if (header_len > bytes.size() - offset) return Error{tr("core.npy.truncated_header"), tr("core.npy.hint_cut_short")};
  const std::string header(bytes.substr(offset, header_len));
  offset += header_len;

  // The header is a Python dict literal; its three keys are found by a plain scan (std::regex recursed once per
  // character and overflowed the stack on a 40 KB header: issue 11, defect 6).
  const std::optional<std::string_view> descr_value = header_value(header, "descr");
  if (!descr_value || descr_value->empty() || descr_value->front() != '\'') return Error{tr("core.npy.no_dtype"), ""};
  const size_t descr_end = descr_value->find('\'', 1);
  if (descr_end == std::string_view::npos || descr_end > kMaxNpyDescr) return Error{tr("core.npy.bad_dtype"), ""};
  const std::string descr(descr_value->substr(1, descr_end - 1));
  size_t item = 0;
  if (descr == "<f4")
    item = 4;
  else if (descr == "<f8")
    item = 8;
  else
    return Error{trf("core.npy.unsupported_dtype", arg("dtype", descr)), tr("core.npy.hint_float_only")};
  if (const auto fortran = header_value(header, "fortran_order"); fortran && fortran->substr(0, 4) == "True")  // i18n: name
    return Error{tr("core.npy.fortran_order"), tr("core.npy.hint_c_order")};
  const std::optional<std::string_view> shape_value = header_value(header, "shape");
  if (!shape_value || shape_value->empty() || shape_value->front() != '(') return Error{tr("core.npy.no_shape"), ""};
  const size_t shape_end = shape_value->find(')');
  if (shape_end == std::string_view::npos) return Error{tr("core.npy.no_shape"), ""};
  const std::string dims(shape_value->substr(1, shape_end - 1));
  if (dims.find_first_not_of("0123456789, ") != std::string::npos || dims.size() > kMaxNpyDescr)
    return Error{trf("core.npy.bad_shape", arg("shape", dims.substr(0, kMaxNpyDescr))), ""};
  std::vector<long long> shape;
  for (size_t k = 0; k < dims.size();) {
    if (!std::isdigit(static_cast<unsigned char>(dims[k]))) {
      ++k;
      continue;
    }
    const size_t first = k;
    while (k < dims.size() && std::isdigit(static_cast<unsigned char>(dims[k]))) ++k;
    if (k - first > 12) return Error{tr("core.npy.dimension_too_large"), ""};
    shape.push_back(std::stoll(dims.substr(first, k - first)));
  }
  if (shape.empty() || shape.size() > 2) return Error{tr("core.npy.rank"), ""};
  const long long rows = shape.size() == 2 ? shape[0] : 1, cols = shape.back();
  if (rows > std::numeric_limits<int>::max() || cols > std::numeric_limits<int>::max()) return Error{tr("core.npy.array_too_large"), ""};
  const unsigned long long count = static_cast<unsigned long long>(rows) * static_cast<unsigned long long>(cols);
  if (count > (bytes.size() - offset) / item || count * item != bytes.size() - offset)
    return Error{trf("core.npy.size_mismatch", arg("bytes", bytes.size() - offset), arg("needed", count * item)),
                 tr("core.files.hint_truncated_or_damaged")};
  Mat M(rows, cols);
  if (count == 0) return M;
  if (item == 4) {
    std::memcpy(M.data(), bytes.data() + offset, count * 4);
  } else {
    for (unsigned long long k = 0; k < count; ++k) {
      double v;
      std::memcpy(&v, bytes.data() + offset + k * 8, 8);
      M.data()[k] = static_cast<float>(v);
    }
  }
  return M;
}

Result<Mat> read_npy(const std::string& path) {
  Result<MappedFile> file = MappedFile::open(path);  // any size: the matrix is never larger than the file
  if (!file) return file.error();
  Result<Mat> M = parse_npy(file->bytes());
  if (!M) return Error{path + ": " + M.error().what, M.error().hint};
  return M;
}

}  // namespace qkv
