// A small JSON reader for the fault-tolerance suite: enough to read `pcommit inspect
// --json` (objects, arrays, strings with \uXXXX escapes as storage/inspect.h writes them,
// numbers kept as their text, true/false/null). Not a general-purpose parser: no
// surrogate pairs (inspect writes bytes >= 0x80 as \u00XX, read back as that byte).
#pragma once

#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pc::chaos {

struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  std::string text;  // String: the decoded bytes; Number: the literal
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  // A missing field or a wrong type reads as null, so callers check what they need.
  const Json& operator[](const std::string& key) const {
    static const Json kNull;
    auto it = fields.find(key);
    return it == fields.end() ? kNull : it->second;
  }
  bool isString() const { return type == Type::String; }
  bool isArray() const { return type == Type::Array; }
};

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class JsonReader {
 public:
  static Json parse(std::string_view text) {
    JsonReader r(text);
    Json v = r.value();
    r.skipSpace();
    if (r.pos_ != r.text_.size()) r.fail("trailing characters");
    return v;
  }

 private:
  explicit JsonReader(std::string_view text) : text_(text) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw JsonError("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  char peek() {
    skipSpace();
    if (pos_ >= text_.size()) fail("unexpected end");
    return text_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json value() {
    Json v;
    char c = peek();
    if (c == '{') {
      v.type = Json::Type::Object;
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        std::string key = string();
        expect(':');
        v.fields[key] = value();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = Json::Type::Array;
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.items.push_back(value());
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = Json::Type::String;
      v.text = string();
      return v;
    }
    if (literal("true") || literal("false")) {
      v.type = Json::Type::Bool;
      v.boolean = text_[pos_ - 1] == 'e' && text_[pos_ - 2] == 'u';
      return v;
    }
    if (literal("null")) return v;
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '+' || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
    }
    if (pos_ == start) fail("unexpected character");
    v.type = Json::Type::Number;
    v.text = std::string(text_.substr(start, pos_ - start));
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) fail("short \\u escape");
          unsigned long code = std::stoul(std::string(text_.substr(pos_, 4)), nullptr, 16);
          pos_ += 4;
          if (code > 0xff) fail("\\u escape above 0xff (not written by inspect)");
          out += static_cast<char>(code);
          break;
        }
        default:
          out += e;  // \" \\ \/
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace pc::chaos
