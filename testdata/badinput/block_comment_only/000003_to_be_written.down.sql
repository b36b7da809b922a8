/* reverses 000003 */
