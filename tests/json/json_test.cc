// json/json.h: the conventions every pcommit JSON writer relies on. If these fail, --json
// output mangles non-ASCII text, cannot carry binary data, or breaks the scripts that grep
// its lines.
#include "json/json.h"

#include <doctest/doctest.h>

#include <string>

namespace pc::json {
namespace {

TEST_CASE("UTF-8 validation accepts text and refuses what a JSON string cannot hold") {
  CHECK(isValidUtf8(""));
  CHECK(isValidUtf8("plain ascii"));
  CHECK(isValidUtf8("caf\xc3\xa9"));             // é
  CHECK(isValidUtf8("\xe2\x82\xac"));            // €
  CHECK(isValidUtf8("\xf0\x9f\x98\x80"));        // U+1F600
  CHECK_FALSE(isValidUtf8("\xff"));              // never in UTF-8
  CHECK_FALSE(isValidUtf8("caf\xe9"));           // Latin-1 é
  CHECK_FALSE(isValidUtf8("\xc3"));              // truncated sequence
  CHECK_FALSE(isValidUtf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(isValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate D800
  CHECK_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(isValidUtf8("\x80"));              // a continuation byte first
}

TEST_CASE("base64 is RFC 4648 with padding, and reads back") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\x00\xff", 2)) == "AP8=");
  for (std::string s : {std::string(), std::string("a\xff"), std::string("\x00\x01\x02\xfe", 4),
                        std::string("longer text, 27 bytes long")}) {
    CHECK(fromBase64(base64(s)) == s);
  }
  CHECK_THROWS_AS(fromBase64("abc"), std::invalid_argument);
  CHECK_THROWS_AS(fromBase64("ab!="), std::invalid_argument);
  CHECK_THROWS_AS(fromBase64("a=bc"), std::invalid_argument);
}

TEST_CASE("putBytes keeps UTF-8 as text and puts other bytes in <field>_base64") {
  Value v;
  putBytes(v, "value", "caf\xc3\xa9");
  CHECK(render(v) == "{\"value\": \"caf\xc3\xa9\"}");
  CHECK(getBytes(v, "value") == std::optional<std::string>("caf\xc3\xa9"));

  Value b;
  putBytes(b, "value", std::string("a\xff", 2));
  CHECK(render(b) == "{\"value\": null, \"value_base64\": \"Yf8=\"}");
  CHECK(getBytes(b, "value") == std::optional<std::string>(std::string("a\xff", 2)));

  Value none{{"value", nullptr}};
  CHECK(getBytes(none, "value") == std::nullopt);
  CHECK(getBytes(none, "other") == std::nullopt);
}

TEST_CASE("render: ', ' and ': ', insertion order, escapes, row arrays one per line") {
  Value v{{"b", 1}, {"a", {true, false, nullptr}}, {"s", "q\"\\\n\x01"}, {"d", 2.5}};
  CHECK(render(v) ==
        "{\"b\": 1, \"a\": [true, false, null], \"s\": \"q\\\"\\\\\\n\\u0001\", \"d\": 2.5}");
  Value rows{{"name", "x"}, {"nodes", {{{"n", 1}}, {{"n", 2}}}}, {"empty", Value::array()}};
  CHECK(render(rows, {false, {"nodes", "empty"}}) ==
        "{\"name\": \"x\", \"nodes\": [\n    {\"n\": 1},\n    {\"n\": 2}], \"empty\": []}");
  CHECK(render(Value{{"k", 1}, {"l", 2}}, {true, {}}) == "{\n  \"k\": 1,\n  \"l\": 2\n}");
  // What render writes, a parser reads back as the same value.
  CHECK(Value::parse(render(rows, {true, {"nodes"}})) == rows);
  // A writer's bug (bad UTF-8 in a plain string) degrades to U+FFFD, never throws.
  CHECK(render(Value(std::string("a\xff"))) == "\"a\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace pc::json
