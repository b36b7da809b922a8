alter type mood add value 'happy';
