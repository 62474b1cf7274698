/** Constants of the server that light modules (the command-line help) need without loading it. */

/** Environment variable holding the server's access token. */
export const TOKEN_VARIABLE = 'SPINEGRADE_TOKEN';
