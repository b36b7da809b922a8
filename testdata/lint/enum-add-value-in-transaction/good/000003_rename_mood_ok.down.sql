alter type mood rename value 'fine' to 'ok';
