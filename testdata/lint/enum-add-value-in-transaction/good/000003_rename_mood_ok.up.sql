alter type mood rename value 'ok' to 'fine';
