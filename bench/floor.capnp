@0xdab3e713464d6b6d;
# The physical floor's round trip (bench/floor.h): the smallest Cap'n Proto call there is,
# over a real TCP connection on 127.0.0.1, so the benchmark can say how far each protocol's
# latency is from what its message delays cost on this machine.

interface FloorEcho {
  # Answers at once with an empty result. `payload` is as large as a transaction's value
  # (--payload-bytes), as a prepare carries it.
  ping @0 (payload :Data) -> ();
}
