// Planted for lint_layout_canary_initlist: a constructor of 85 lines whose member-initializer
// list is on indented lines after its signature. layout_lint.py must refuse it (issue 14: the
// lint once saw only a signature ending with "{" at column 0, and let this through).
class Planted {
 public:
  Planted(int first_value, int second_value, int third_value);

 private:
  int firstValueKeptHere_;
  int secondValueKeptHere_;
  int thirdValueKeptHere_;
  int total_ = 0;
};

Planted::Planted(int first_value, int second_value, int third_value)
    : firstValueKeptHere_(first_value),
      secondValueKeptHere_(second_value),
      thirdValueKeptHere_(third_value) {
  total_ += 0;
  total_ += 1;
  total_ += 2;
  total_ += 3;
  total_ += 4;
  total_ += 5;
  total_ += 6;
  total_ += 7;
  total_ += 8;
  total_ += 9;
  total_ += 10;
  total_ += 11;
  total_ += 12;
  total_ += 13;
  total_ += 14;
  total_ += 15;
  total_ += 16;
  total_ += 17;
  total_ += 18;
  total_ += 19;
  total_ += 20;
  total_ += 21;
  total_ += 22;
  total_ += 23;
  total_ += 24;
  total_ += 25;
  total_ += 26;
  total_ += 27;
  total_ += 28;
  total_ += 29;
  total_ += 30;
  total_ += 31;
  total_ += 32;
  total_ += 33;
  total_ += 34;
  total_ += 35;
  total_ += 36;
  total_ += 37;
  total_ += 38;
  total_ += 39;
  total_ += 40;
  total_ += 41;
  total_ += 42;
  total_ += 43;
  total_ += 44;
  total_ += 45;
  total_ += 46;
  total_ += 47;
  total_ += 48;
  total_ += 49;
  total_ += 50;
  total_ += 51;
  total_ += 52;
  total_ += 53;
  total_ += 54;
  total_ += 55;
  total_ += 56;
  total_ += 57;
  total_ += 58;
  total_ += 59;
  total_ += 60;
  total_ += 61;
  total_ += 62;
  total_ += 63;
  total_ += 64;
  total_ += 65;
  total_ += 66;
  total_ += 67;
  total_ += 68;
  total_ += 69;
  total_ += 70;
  total_ += 71;
  total_ += 72;
  total_ += 73;
  total_ += 74;
  total_ += 75;
  total_ += 76;
  total_ += 77;
  total_ += 78;
  total_ += 79;
}
