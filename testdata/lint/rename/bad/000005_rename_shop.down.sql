alter schema store rename to shop;
