/* nosym.c -- a plugin that forgot MILL_JOB. */
int not_a_job(void);
int not_a_job(void) { return 1; }
