// QKV Lab core — the one matrix type, assertions and user-facing errors.
//
// Symbol legend used across core/ (stated once, used everywhere):
//   n = query tokens, m = key tokens (m = n in self-attention), B = sequences in a batch,
//   d_model = width of the residual stream, h = heads, d_k = query/key width per head,
//   d_v = value width per head, d_ff = FFN hidden width, L = layers, V = vocabulary size.
#pragma once

#include <Eigen/Core>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace qkv {

// One row-major matrix type for the whole project: .data() goes straight to a GL texture or a .npy file.
// MatT<double> is the float64 instantiation used to check gradients against finite differences.
template <typename T>
using MatT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Mat = MatT<float>;
using MatD = MatT<double>;
using RowVec = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using MatRef = Eigen::Ref<const Mat>;

// Programmer errors: report file and line, then abort. User errors go through Error below.
#define QKV_ASSERT(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "QKV_ASSERT failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

// A user error: what went wrong, and what to do about it.
struct Error {
  std::string what;
  std::string hint;
  std::string message() const { return hint.empty() ? what : what + " (" + hint + ")"; }
};

// Either a value or an Error (std::expected is C++23; g++ 12 lacks it).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }  // moves out of a temporary: *run(s) copies nothing
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace qkv
