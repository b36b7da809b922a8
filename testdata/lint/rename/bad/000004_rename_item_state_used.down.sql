alter type item_state rename value 'second_hand' to 'used';
