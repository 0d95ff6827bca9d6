// The input pipeline's text stages, fused: lines split on ASCII whitespace, in one pass, instead of
// tf.strings.split (a string tensor of every token and its ragged row splits) and what follows it.
//
// A token is a maximal run of bytes that are not ASCII whitespace (space, \t, \n, \v, \f, \r), which is what
// tf.strings.split(lines) (StringSplitV2 with no separator) returns.
//
// Word2VecTokenIds, the text-to-ids stage. For the tokens of all lines in order, keeping only those found in
// `vocabulary` (id = position):
//
//     ids [M]       int32  the token's id
//     sentence [M]  int32  the number of its line within `lines`
//     tokens []     int64  how many tokens there were, out-of-vocabulary ones included
//
// This is tfw2v.data.token_ids's definition (without phrases), which stays the reference; the two are equal.
// The vocabulary's index is built on the first call and kept while the same vocabulary tensor is passed.
//
// Word2VecTokenCounts, the vocabulary's counting stage. The distinct tokens of `lines`, in the order of their
// first occurrence, and how often each occurs:
//
//     tokens [U]    string
//     counts [U]    int64
//
// This is tf.unique_with_counts(tf.strings.split(lines).flat_values)'s definition, which stays the reference
// (tfw2v.text.vocabulary counts with it where the op cannot be built); the two are equal.

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tfw2v {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::tstring;
using tensorflow::errors::InvalidArgument;

REGISTER_OP("Word2VecTokenIds")
    .Input("lines: string")
    .Input("vocabulary: string")
    .Output("ids: int32")
    .Output("sentence: int32")
    .Output("tokens: int64")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->Vector(c->UnknownDim()));
      c->set_output(1, c->Vector(c->UnknownDim()));
      c->set_output(2, c->Scalar());
      return absl::OkStatus();
    })
    .Doc(R"doc(
The ids of the in-vocabulary whitespace-separated tokens of `lines` [N], their line numbers, and the number of
tokens. See the source's header for the definition.
)doc");

REGISTER_OP("Word2VecTokenCounts")
    .Input("lines: string")
    .Output("tokens: string")
    .Output("counts: int64")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->Vector(c->UnknownDim()));
      c->set_output(1, c->Vector(c->UnknownDim()));
      return absl::OkStatus();
    })
    .Doc(R"doc(
The distinct whitespace-separated tokens of `lines` [N], in order of first occurrence, and their counts. See the
source's header for the definition.
)doc");

namespace {

inline bool IsAsciiSpace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// FNV-1a, 64 bits.
inline uint64_t HashBytes(const char* data, size_t size) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001B3ULL;
  return h;
}

// Calls visit(line, token, size) for every token of `lines`, in order.
template <typename Visit>
void ForEachToken(const Tensor& lines, Visit visit) {
  const auto text = lines.flat<tstring>();
  for (int64_t line = 0; line < text.size(); ++line) {
    const char* p = text(line).data();
    const char* end = p + text(line).size();
    while (p < end) {
      while (p < end && IsAsciiSpace(static_cast<unsigned char>(*p))) ++p;
      if (p == end) break;
      const char* start = p;
      while (p < end && !IsAsciiSpace(static_cast<unsigned char>(*p))) ++p;
      visit(line, start, static_cast<size_t>(p - start));
    }
  }
}

// An open-addressing index of the vocabulary's tokens (linear probing, at most half full), holding the
// vocabulary tensor so that the tokens it points into stay alive.
class VocabularyIndex {
 public:
  explicit VocabularyIndex(const Tensor& vocabulary) : vocabulary_(vocabulary) {
    const auto words = vocabulary_.flat<tstring>();
    size_t capacity = 16;
    while (capacity < 2 * static_cast<size_t>(words.size())) capacity <<= 1;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{0, -1});
    for (int64_t id = 0; id < words.size(); ++id) {
      const std::string_view word(words(id).data(), words(id).size());
      const uint64_t h = HashBytes(word.data(), word.size());
      size_t s = h & mask_;
      while (slots_[s].id >= 0 && !(slots_[s].hash == h && Word(slots_[s].id) == word)) s = (s + 1) & mask_;
      if (slots_[s].id < 0) slots_[s] = Slot{h, static_cast<int32_t>(id)};  // a repeated token keeps its first id
    }
  }

  bool Holds(const Tensor& vocabulary) const { return vocabulary.SharesBufferWith(vocabulary_); }

  // The id of `token`, or -1.
  int32_t Find(const char* token, size_t size) const {
    const uint64_t h = HashBytes(token, size);
    for (size_t s = h & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.id < 0) return -1;
      if (slot.hash == h && Word(slot.id) == std::string_view(token, size)) return slot.id;
    }
  }

 private:
  struct Slot {
    uint64_t hash;
    int32_t id;
  };
  std::string_view Word(int32_t id) const {
    const tstring& word = vocabulary_.flat<tstring>()(id);
    return std::string_view(word.data(), word.size());
  }

  Tensor vocabulary_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

class Word2VecTokenIdsOp : public OpKernel {
 public:
  explicit Word2VecTokenIdsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& lines = ctx->input(0);
    const Tensor& vocabulary = ctx->input(1);
    OP_REQUIRES(ctx, lines.dims() == 1, InvalidArgument("lines must be [N], got ", lines.shape().DebugString()));
    OP_REQUIRES(ctx, vocabulary.dims() == 1 && vocabulary.NumElements() < (int64_t{1} << 31),
                InvalidArgument("vocabulary must be [V] with V < 2^31, got ", vocabulary.shape().DebugString()));
    const std::shared_ptr<const VocabularyIndex> index = IndexOf(vocabulary);

    std::vector<int32_t> ids, sentence;
    int64_t tokens = 0;
    ForEachToken(lines, [&](int64_t line, const char* token, size_t size) {
      ++tokens;
      const int32_t id = index->Find(token, size);
      if (id < 0) return;
      ids.push_back(id);
      sentence.push_back(static_cast<int32_t>(line));
    });
    const int64_t kept = static_cast<int64_t>(ids.size());
    Tensor *ids_out, *sentence_out, *tokens_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({kept}), &ids_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({kept}), &sentence_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({}), &tokens_out));
    std::copy(ids.begin(), ids.end(), ids_out->flat<int32_t>().data());
    std::copy(sentence.begin(), sentence.end(), sentence_out->flat<int32_t>().data());
    tokens_out->scalar<int64_t>()() = tokens;
  }

 private:
  // The index of `vocabulary`, built on first use and rebuilt if another vocabulary tensor comes (calls may run
  // concurrently: tf.data's parallel map shares this kernel).
  std::shared_ptr<const VocabularyIndex> IndexOf(const Tensor& vocabulary) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_ == nullptr || !index_->Holds(vocabulary)) index_ = std::make_shared<const VocabularyIndex>(vocabulary);
    return index_;
  }

  std::mutex mutex_;
  std::shared_ptr<const VocabularyIndex> index_;
};

REGISTER_KERNEL_BUILDER(Name("Word2VecTokenIds").Device(DEVICE_CPU), Word2VecTokenIdsOp);

// The distinct tokens seen so far, in order of first occurrence, with their counts: an open-addressing index
// (linear probing, at most half full, doubled as it fills) into views of the input lines.
class TokenCounter {
 public:
  void Add(const char* token, size_t size) {
    if (2 * (tokens_.size() + 1) > slots_.size()) Grow();
    const std::string_view word(token, size);
    const uint64_t h = HashBytes(token, size);
    size_t s = h & mask_;
    while (slots_[s].index >= 0) {
      if (slots_[s].hash == h && tokens_[slots_[s].index] == word) {
        ++counts_[slots_[s].index];
        return;
      }
      s = (s + 1) & mask_;
    }
    slots_[s] = Slot{h, static_cast<int64_t>(tokens_.size())};
    tokens_.push_back(word);
    counts_.push_back(1);
  }

  const std::vector<std::string_view>& tokens() const { return tokens_; }
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  struct Slot {
    uint64_t hash;
    int64_t index;
  };
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{0, -1});
    mask_ = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.index < 0) continue;
      size_t s = slot.hash & mask_;
      while (slots_[s].index >= 0) s = (s + 1) & mask_;
      slots_[s] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::vector<std::string_view> tokens_;  // views into the op's input, alive for the whole Compute
  std::vector<int64_t> counts_;
};

class Word2VecTokenCountsOp : public OpKernel {
 public:
  explicit Word2VecTokenCountsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& lines = ctx->input(0);
    OP_REQUIRES(ctx, lines.dims() == 1, InvalidArgument("lines must be [N], got ", lines.shape().DebugString()));
    TokenCounter counter;
    ForEachToken(lines, [&](int64_t, const char* token, size_t size) { counter.Add(token, size); });
    const int64_t distinct = static_cast<int64_t>(counter.tokens().size());
    Tensor *tokens_out, *counts_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({distinct}), &tokens_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({distinct}), &counts_out));
    auto tokens = tokens_out->flat<tstring>();
    for (int64_t i = 0; i < distinct; ++i) tokens(i).assign(counter.tokens()[i].data(), counter.tokens()[i].size());
    std::copy(counter.counts().begin(), counter.counts().end(), counts_out->flat<int64_t>().data());
  }
};

REGISTER_KERNEL_BUILDER(Name("Word2VecTokenCounts").Device(DEVICE_CPU), Word2VecTokenCountsOp);

}  // namespace
}  // namespace tfw2v
