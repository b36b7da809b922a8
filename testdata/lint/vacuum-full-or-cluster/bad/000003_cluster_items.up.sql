cluster items using items_pkey;
