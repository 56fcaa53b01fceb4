#include "apps/telemetry/main.h"

int main(int argc, char** argv) { return telemetry_main(argc, argv); }
