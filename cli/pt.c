#include "pt.h"
int main (void) { return 0; }
