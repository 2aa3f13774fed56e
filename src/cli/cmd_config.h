/* cmd_config.h — `fedrec config`: keys, effective configuration, checks. */
#ifndef FR_CMD_CONFIG_H
#define FR_CMD_CONFIG_H

int fr_cli_config(int argc, char **argv);

#endif
