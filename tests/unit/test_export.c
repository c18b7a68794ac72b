#include "unit.h"
int main(void) { CHECK(0, "test_export not written yet"); return unit_done(); }
