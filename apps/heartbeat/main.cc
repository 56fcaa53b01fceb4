#include "apps/heartbeat/main.h"

int main(int argc, char** argv) { return heartbeat_main(argc, argv); }
