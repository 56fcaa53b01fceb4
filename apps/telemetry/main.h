// The telemetry daemon's main(), as a function: the binary calls it, and so
// does the flight recorder's replay (//test/fake:replay) on the host.
#pragma once

int telemetry_main(int argc, char** argv);
