// pc::json: the one JSON library of pcommit (nlohmann-json, Debian's nlohmann-json3-dev)
// and the two things every JSON writer here shares.
//
// Byte strings (keys, values, reasons, paths) are written as JSON strings when they are
// valid UTF-8 -- "café" stays "café". Bytes that are not valid UTF-8 cannot be a JSON
// string: the field is then null and a sibling field `<field>_base64` holds the bytes in
// base64 (RFC 4648, with padding), e.g. {"value": null, "value_base64": "/w=="}. A reader
// that finds the sibling takes it; one that does not know it sees null. README "JSON
// output" documents this for users.
//
// Layout: the commands print JSON with ", " between items and ": " after keys, and long
// lists one element per line -- scripts (tests/e2e/lib.sh, the peers' scripts) grep single
// lines such as `"name": "p1"`. render() produces that layout from a Value; any JSON
// parser reads it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pc::json {

// Objects keep their members in insertion order: the order of fields is part of what
// the commands print (and what scripts grep), not the alphabet's.
using Value = nlohmann::ordered_json;

bool isValidUtf8(std::string_view bytes);
std::string base64(std::string_view bytes);
// The bytes of base64(x) back; throws std::invalid_argument on text that is not base64.
std::string fromBase64(std::string_view text);

// object[field] = bytes as a string if valid UTF-8; else object[field] = null and
// object[field + "_base64"] = base64(bytes). `object` must be an object (or null).
void putBytes(Value& object, const std::string& field, std::string_view bytes);

// The bytes putBytes stored under `field` of `object` (either form); nullopt if the field
// is null with no base64 sibling, or absent.
std::optional<std::string> getBytes(const Value& object, const std::string& field);

// How render() breaks lines.
struct Layout {
  // Each member of the top-level object on a line of its own (indented 2).
  bool membersOnLines = false;
  // Members (at any depth) whose value is an array with each element on a line of its
  // own: "transactions", "nodes", ...
  std::vector<std::string> rowArrays;
};

// `value` as text in the layout above, without a final newline. Strings that are not
// valid UTF-8 (only a bug of the writer: byte strings go through putBytes) are written
// with U+FFFD in place of the bad bytes rather than failing the command.
std::string render(const Value& value, const Layout& layout = {});

}  // namespace pc::json
