#include "core/utf8.h"

#include "gtest/gtest.h"

namespace clover {
namespace {

TEST(Utf8Test, AcceptsEveryLengthOfScalarValue) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));          // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xe2\x80\x94"));      // U+2014
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("\xf0\x9f\x98\x80", 0, &cp), 4u);
  EXPECT_EQ(cp, 0x1f600u);
  EXPECT_EQ(DecodeUtf8("a\xc3\xa9", 1, &cp), 2u);
  EXPECT_EQ(cp, 0xe9u);
}

TEST(Utf8Test, RefusesWhatStrictReadersRefuse) {
  EXPECT_FALSE(IsValidUtf8("\xed\xba\xac"));  // U+DEAC, an unpaired surrogate
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));  // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x80"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xff"));
  uint32_t cp = 7;
  EXPECT_EQ(DecodeUtf8("\xe2\x28\xa1", 0, &cp), 0u);  // bad continuation
  EXPECT_EQ(cp, 7u);                                  // untouched on error
}

}  // namespace
}  // namespace clover
