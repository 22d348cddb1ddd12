// Lessons: the parser refuses what it does not understand, figures are computed by the core, and every
// shipped lesson in assets/lessons/ opens a valid live state whose highlighted tensors exist and whose quoted
// figures match the core within the rounding of their format.
#include "core/lessons.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "core/files.h"
#include "core/model.h"
#include "core/network.h"

namespace qkv {
namespace {

const std::string kAssets = QKVLAB_ASSETS_DIR;

TEST(Lessons, ParserRefusesUnknownKeysAndMissingLanguages) {
  const std::string ok = R"({"id": "t", "number": 1, "title": {"en": "T", "zh": "题"}, "question": {"en": "Q?", "zh": "问？"},
    "short_answer": {"en": "A {p}", "zh": "答 {p}"}, "explanation": {"en": "E", "zh": "解"},
    "figures": {"p": {"kind": "softmax", "values": [0.8, 0.1, 0.1], "index": 0, "expect": 0.50}}})";
  Result<Lesson> l = parse_lesson(ok);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->figures.at("p").expect.value(), 0.50);
  std::string missing_zh = ok;
  missing_zh.replace(missing_zh.find(", \"zh\": \"解\""), std::string(", \"zh\": \"解\"").size(), "");
  EXPECT_FALSE(parse_lesson(missing_zh));
  std::string unknown = ok;
  unknown.insert(1, "\"colour\": 3, ");
  Result<Lesson> bad = parse_lesson(unknown);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what.find("colour"), std::string::npos);
  EXPECT_FALSE(parse_lesson("{not json"));
  // A figure's format goes to printf: only one %f/%e/%g conversion (or "count") is accepted.
  // Issue 11, defect 5: a width or precision of more than two digits would have printf work for minutes.
  for (const char* format : {"%s", "%n", "%d", "%.2f%.2f", "%", "%.999999999f", "%999999999f", "%.100f", "%123.2e"}) {
    std::string bad_format = ok;
    bad_format.replace(bad_format.find("\"expect\""), 0, std::string("\"format\": \"") + format + "\", ");
    EXPECT_FALSE(parse_lesson(bad_format)) << format;
  }
  std::string good_format = ok;
  good_format.replace(good_format.find("\"expect\""), 0, "\"format\": \"%+.3g%%\", ");
  EXPECT_TRUE(parse_lesson(good_format));
  std::string widest = ok;
  widest.replace(widest.find("\"expect\""), 0, "\"format\": \"%99.99f\", ");
  EXPECT_TRUE(parse_lesson(widest)) << "two digits each are allowed";
  // Whole numbers are whole and fit: a number of 5e9 was wrapped to a small one.
  for (const char* number : {"5000000000", "1.5", "-9223372036854775808"}) {
    std::string wide = ok;
    wide.replace(wide.find("\"number\": 1"), std::string("\"number\": 1").size(), std::string("\"number\": ") + number);
    Result<Lesson> refused = parse_lesson(wide);
    ASSERT_FALSE(refused) << number;
    EXPECT_NE(refused.error().what.find("number"), std::string::npos) << refused.error().what;
  }
}

// Issue 11, defect 4: a lesson (or a session patch) nested 100,000 deep overflowed the stack in parse, patch and dump.
TEST(Lessons, ADeeplyNestedFileIsRefusedBeforeItIsParsed) {
  const std::string deep = "{\"id\": \"x\", \"session\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  Result<Lesson> l = parse_lesson(deep, "deep.json");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().what.find("deep.json nests deeper than 64 levels"), std::string::npos) << l.error().message();
  Result<Session> patched = patch_session(Session{}, std::string(100000, '{') + std::string(100000, '}'));
  ASSERT_FALSE(patched.ok());
  Result<Session> session = session_from_json("{\"text\": \"[[[[ brackets in a string do not count ]]]]\"}");
  EXPECT_TRUE(session.ok()) << session.error().message();
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": "]]]}}}\"[[["}]})"), 3);
  Result<Session> deep_session = session_from_json("{\"custom_cells\": " + std::string(65, '[') + std::string(65, ']') + "}");
  ASSERT_FALSE(deep_session.ok());
  EXPECT_NE(deep_session.error().what.find("the session nests deeper than 64"), std::string::npos) << deep_session.error().message();
}

TEST(Lessons, FiguresComeFromTheCore) {
  Figure f;
  f.kind = "softmax";
  f.values = {0.8, 0.1, 0.1};
  double v = 0;
  EXPECT_EQ(*evaluate_figure(f, Session{}, "", &v), "0.50");
  EXPECT_NEAR(v, 0.5017, 1e-4);  // e^0.8 / (e^0.8 + 2e^0.1)
  f.scale = 1.0 / std::sqrt(3.0);
  f.index = 1;
  EXPECT_EQ(*evaluate_figure(f, Session{}, "", &v), "0.29");
  Figure p;
  p.kind = "params";
  p.preset = "bert-base";
  p.format = "count";
  EXPECT_EQ(*evaluate_figure(p, Session{}, ""), "109,482,240");
  Figure shape;
  shape.kind = "shape";
  shape.tensor = "encoder.0.self_attn.head.0.P";
  Session s;
  s.input.text = "one two three";
  EXPECT_EQ(*evaluate_figure(shape, s, ""), "[3×3]");
  shape.set = R"({"text": "one two three four"})";
  EXPECT_EQ(*evaluate_figure(shape, s, ""), "[4×4]");
  Figure missing;
  missing.kind = "tensor";
  missing.tensor = "encoder.9.nothing";
  EXPECT_FALSE(evaluate_figure(missing, s, ""));
}

TEST(Lessons, EveryShippedLessonOpensItsLiveStateAndQuotesTheCore) {
  std::vector<std::string> errors;
  const std::vector<Lesson> lessons = load_lessons(kAssets + "/lessons", &errors);
  for (const std::string& e : errors) ADD_FAILURE() << e;
  std::set<std::string> ids;
  std::set<int> numbers;
  for (const Lesson& l : lessons) {
    EXPECT_TRUE(ids.insert(l.id).second) << "duplicate id " << l.id;
    EXPECT_TRUE(numbers.insert(l.number).second) << "duplicate number " << l.number;
    for (const std::string& problem : check_lesson(l, kAssets + "/weights")) ADD_FAILURE() << problem;
  }
  // The curriculum: lessons 1 to 30, all of them.
  for (int k = 1; k <= 30; ++k) EXPECT_TRUE(numbers.count(k)) << "lesson " << k << " is missing";
}

// A lesson that quotes a wrong number is caught.
TEST(Lessons, AWrongQuotedFigureIsReported) {
  Result<Lesson> l = parse_lesson(R"({"id": "w", "number": 99, "title": {"en": "T", "zh": "题"}, "question": {"en": "Q", "zh": "问"},
    "short_answer": {"en": "{p}", "zh": "{p}"}, "explanation": {"en": "E {q}", "zh": "解"},
    "figures": {"p": {"kind": "softmax", "values": [0.8, 0.1, 0.1], "index": 0, "expect": 0.43},
                "q": {"kind": "shape", "tensor": "encoder.0.self_attn.head.0.P"}}})");
  ASSERT_TRUE(l);
  const std::vector<std::string> problems = check_lesson(*l, kAssets + "/weights");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("different figures"), std::string::npos);
  EXPECT_NE(problems[1].find("is 0.50 on the core, but the lesson says 0.43"), std::string::npos);
}


// A view names a stepper step this model has, and a try step's highlights are parsed and checked on its own state.
TEST(Lessons, StepNamesFollowTheWiringAndStepHighlightsAreChecked) {
  const std::string head = R"({"id": "v", "number": 98, "title": {"en": "T", "zh": "题"}, "question": {"en": "Q", "zh": "问"},
    "short_answer": {"en": "A", "zh": "答"}, "explanation": {"en": "E", "zh": "解"}, "session": {"text": "a b c", "model": {"layers": 1}},)";
  // Post-Norm has no "FFN norm" before the FFN... but it has one after it; a Pre-Norm-only step is refused.
  Result<Lesson> post = parse_lesson(head + R"("view": {"panel": "stepper", "step": "final norm"}})");
  ASSERT_TRUE(post) << post.error().message();
  std::vector<std::string> problems = check_lesson(*post, kAssets + "/weights");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("step \"final norm\" is not a step"), std::string::npos) << problems[0];
  // After a try step switches to Pre-Norm, the same step exists; its highlight must exist in that state.
  Result<Lesson> pre = parse_lesson(head + R"("try": [{"text": {"en": "t", "zh": "试"}, "set": {"model": {"norm_placement": "pre"}},
      "view": {"panel": "stepper", "step": "final norm"}, "highlight": [{"tensor": "encoder.final_norm"}, {"tensor": "encoder.nothing"}]}]})");
  ASSERT_TRUE(pre) << pre.error().message();
  ASSERT_EQ(pre->steps[0].highlights.size(), 2u);
  problems = check_lesson(*pre, kAssets + "/weights");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("encoder.nothing does not exist"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace qkv
