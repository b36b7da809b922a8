alter type item_state rename value 'used' to 'second_hand';
