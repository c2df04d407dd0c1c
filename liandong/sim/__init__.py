"""The district simulation behind `liandong demo`: a seeded stream of petitions modelled on the
seed reports (generator), every service running as its own process on a compressed clock
(stack, run), and the annual report it ends with (report)."""
